"""Presentation tokens: what a member's app shows as a QR code instead of the code.

A token is `QY.<voucher id>.<timestamp>.<signature>` (Django's TimestampSigner, so it is
bound to this deployment's SECRET_KEY), lives `PRESENTATION_TOKEN_SECONDS` (120 s by
default) and never contains the code: a screenshot of it is useless two minutes later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from vouchers.errors import InvalidTransition, VoucherExpired, VoucherFrozen, VoucherVoid
from vouchers.models import Voucher
from vouchers.rules import Refusal, voucher_status_refusal
from vouchers.services import voucher_for_partner

from .errors import AlreadyRedeemed, NotClaimed, TokenExpired

PREFIX = "QY."
_SALT = "quanyi.redemption.presentation"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT, sep=".")


def is_token(text: str) -> bool:
    return text.strip().upper().startswith(PREFIX)


@dataclass(frozen=True)
class Presentation:
    token: str
    expires_at: dt.datetime
    qr_svg: str


def presentation_create_for_partner(
    *, serial: str, actor: Actor, any_voucher: bool
) -> Presentation:
    """A token for a partner client's member app. A token redeems like the code, so the
    rule of revealing applies: only vouchers claimed through that client (`any_voucher`
    lifts it); any other serial answers like an unknown one and counts as a guess."""
    voucher = voucher_for_partner(serial=serial, actor=actor, any_voucher=any_voucher)
    return presentation_create(voucher=voucher, actor=actor)


def presentation_create(*, voucher: Voucher, actor: Actor) -> Presentation:
    """A fresh token for a claimed voucher that can still be redeemed. The voucher's own
    state decides (`vouchers.rules.voucher_status_refusal`); a token is only for a
    voucher a member holds, so an unclaimed one is refused whatever its batch allows."""
    refusal = voucher_status_refusal(voucher, at=timezone.now())
    if refusal == Refusal.REDEEMED:
        raise AlreadyRedeemed(redeemed_at=voucher.redeemed_at and voucher.redeemed_at.isoformat())
    if refusal == Refusal.FROZEN:
        raise VoucherFrozen()
    if refusal == Refusal.VOID:
        raise VoucherVoid()
    if refusal == Refusal.EXPIRED:
        raise VoucherExpired()
    if voucher.status != Voucher.Status.CLAIMED:
        raise NotClaimed()
    token = PREFIX + _signer().sign(str(voucher.pk))
    lifetime = dt.timedelta(seconds=settings.PRESENTATION_TOKEN_SECONDS)
    qr = segno.make(token, error="m")
    return Presentation(
        token=token,
        expires_at=timezone.now() + lifetime,
        qr_svg=qr.svg_inline(scale=4, title=_("Voucher QR code")),
    )


def presentation_voucher_id(token: str) -> int | None:
    """The voucher a token stands for; None if it is not a genuine token. Raises
    TokenExpired for a genuine token past its lifetime."""
    text = token.strip()
    if not is_token(text):
        return None
    value = text[len(PREFIX) :]
    try:
        voucher_id = _signer().unsign(value, max_age=settings.PRESENTATION_TOKEN_SECONDS)
    except signing.SignatureExpired:
        raise TokenExpired() from None
    except signing.BadSignature:
        return None
    try:
        return int(voucher_id)
    except ValueError:  # pragma: no cover - we only ever sign integers
        raise InvalidTransition() from None
