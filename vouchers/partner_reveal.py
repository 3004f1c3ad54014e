"""Revealing a code to a partner system (or a presentation token, which redeems like the
code): only the vouchers claimed through that client.

Serials are sequential and not secret, so "any voucher whose serial you can name" would
let one `vouchers:reveal` key walk a batch. A client reveals a voucher only when its
claim was made through that client; the scope `vouchers:reveal_any` lifts that (API.md).
Any other serial answers 404 exactly like an unknown one, and both count towards the
guessing limit of the client (`riskcontrol.rules.guessing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound
from riskcontrol.rules.guessing import guess_failure_record, guess_keys, guess_limit_check

from .models import Voucher, VoucherEvent
from .services import voucher_reveal

# Lifts "only vouchers claimed through this client" for reveals and presentation tokens.
REVEAL_ANY_SCOPE = "vouchers:reveal_any"


@dataclass(frozen=True)
class PartnerReveal:
    voucher: Voucher
    code: str


def voucher_claimed_through(*, voucher: Voucher, partner_client_id: int | None) -> bool:
    """Whether the voucher's (latest) claim was made by this partner client."""
    if partner_client_id is None:
        return False
    claimed_by = (
        VoucherEvent.objects.filter(voucher_id=voucher.pk, action=VoucherEvent.Action.CLAIM)
        .order_by("-created_at", "-id")
        .values_list("partner_client_id", flat=True)
        .first()
    )
    return claimed_by == partner_client_id


def voucher_for_partner(*, serial: str, actor: Actor, any_voucher: bool) -> Voucher:
    """The voucher `serial` if the partner client `actor` may hand out what stands for its
    code (the code itself, or a presentation token that redeems it): claimed through that
    client, or any voucher with `any_voucher`. Otherwise NotFound, like an unknown serial,
    counted towards the client's guessing limit.

    No transaction here on purpose: a refused serial is counted in its own short
    transaction (or in Redis), so the count survives whatever the caller rolls back.
    """
    keys = guess_keys(user_id=actor.user_id, client_id=actor.partner_client_id)
    guess_limit_check(keys)
    voucher = Voucher.objects.select_related("batch", "member").filter(serial=serial).first()
    if voucher is None or not (
        any_voucher
        or voucher_claimed_through(voucher=voucher, partner_client_id=actor.partner_client_id)
    ):
        guess_failure_record(keys)
        raise NotFound(_("No voucher with this serial."))
    return voucher


def voucher_reveal_for_partner(*, serial: str, actor: Actor, reveal_any: bool) -> PartnerReveal:
    """The code of the voucher `serial` for the partner client `actor`, recorded as a
    reveal event (`voucher_reveal`, which owns the transaction and the row lock)."""
    voucher = voucher_for_partner(serial=serial, actor=actor, any_voucher=reveal_any)
    code = voucher_reveal(voucher=voucher, actor=actor, for_partner=True)
    return PartnerReveal(voucher=voucher, code=code)
