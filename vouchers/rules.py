"""Voucher rules other code asks about, decided here once: whether a voucher can be
redeemed at a given moment (and if not, why), and what it is worth (its own face value,
falling back to its batch's).

These are pure decisions over a voucher and its batch: no query, no write, no error
raised. The redemption app turns a refusal into its domain error and adds its own rules
(stores, time windows, minimum order); the API and the clerk page show the value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from .models import Voucher, VoucherBatch

S = Voucher.Status


class Refusal(StrEnum):
    """Why a voucher cannot be redeemed now, in the order the rules are checked."""

    REDEEMED = "redeemed"
    FROZEN = "frozen"
    VOID = "void"
    EXPIRED = "expired"  # the voucher's status, or its own expiry has passed
    BATCH_ENDED = "batch_ended"  # the batch's validity has ended
    NOT_YET_VALID = "not_yet_valid"  # the batch's validity has not begun
    NOT_CLAIMED = "not_claimed"  # unclaimed, and the batch does not redeem unclaimed codes


def voucher_face_value(voucher: Voucher, batch: VoucherBatch | None = None) -> Decimal:
    """The voucher's face value: its own when it has one (an imported card with its
    value), otherwise its batch's."""
    if voucher.face_value is not None:
        return voucher.face_value
    return (batch or voucher.batch).face_value


def voucher_status_refusal(voucher: Voucher, *, at: dt.datetime) -> Refusal | None:
    """What the voucher's own state says against using it at `at`: redeemed, frozen,
    void, or expired (by status or by its `expires_at`). None when nothing does."""
    if voucher.status == S.REDEEMED:
        return Refusal.REDEEMED
    if voucher.status == S.FROZEN:
        return Refusal.FROZEN
    if voucher.status == S.VOID:
        return Refusal.VOID
    if voucher.status == S.EXPIRED or (voucher.expires_at and voucher.expires_at <= at):
        return Refusal.EXPIRED
    return None


def voucher_redeem_refusal(
    voucher: Voucher, *, batch: VoucherBatch | None = None, at: dt.datetime
) -> Refusal | None:
    """Why the voucher cannot be redeemed at `at`, or None when it can: its own state
    (`voucher_status_refusal`), then its batch's validity window, then an unclaimed
    voucher of a batch that does not allow unclaimed redemption."""
    batch = batch or voucher.batch
    refusal = voucher_status_refusal(voucher, at=at)
    if refusal is not None:
        return refusal
    if batch.valid_until and batch.valid_until <= at:
        return Refusal.BATCH_ENDED
    if batch.valid_from and at < batch.valid_from:
        return Refusal.NOT_YET_VALID
    if voucher.status == S.AVAILABLE and not batch.allow_unclaimed_redemption:
        return Refusal.NOT_CLAIMED
    return None
