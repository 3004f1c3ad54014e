"""Redemption marks: the redemption app owns redemptions; these move the voucher
(claimed or available -> redeemed, and back on a reversal) with their events."""

from __future__ import annotations

import datetime as dt

from riskcontrol.core.actors import Actor

from ..errors import InvalidTransition
from ..models import Voucher, VoucherBatch, VoucherEvent
from .events import _event

S = Voucher.Status


def voucher_mark_redeemed(
    *, voucher: Voucher, actor: Actor, at: dt.datetime, context: dict | None = None
) -> Voucher:
    """claimed (or, for batches that allow it, available) -> redeemed, with its event.
    The caller holds the voucher's row lock (`vouchers.locks.voucher_for_update`) and has
    checked the rules; the UPDATE is still conditional on the status it saw."""
    from_status = voucher.status
    updated = Voucher.objects.filter(
        pk=voucher.pk, status__in=(S.CLAIMED, S.AVAILABLE), status=from_status
    ).update(status=S.REDEEMED, redeemed_at=at)
    if updated != 1:
        raise InvalidTransition()
    voucher.status, voucher.redeemed_at = S.REDEEMED, at
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.REDEEM,
        from_status=from_status,
        to_status=S.REDEEMED,
        actor=actor,
        extra=context,
    )
    return voucher


def voucher_mark_unredeemed(
    *, voucher: Voucher, to_status: str, actor: Actor, context: dict | None = None
) -> Voucher:
    """redeemed -> the status it had before (a reversal). A card secret that was never
    claimed was delivered by its redemption: it goes to void, never back to stock."""
    if voucher.batch.kind == VoucherBatch.Kind.CARD_SECRET and to_status == S.AVAILABLE:
        to_status = S.VOID
    updated = Voucher.objects.filter(pk=voucher.pk, status=S.REDEEMED).update(
        status=to_status, redeemed_at=None
    )
    if updated != 1:
        raise InvalidTransition()
    voucher.status, voucher.redeemed_at = to_status, None
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.REVERSE,
        from_status=S.REDEEMED,
        to_status=to_status,
        actor=actor,
        extra=context,
    )
    return voucher
