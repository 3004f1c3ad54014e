"""Revealing codes: one voucher's code to an operator or a partner system (recorded as a
reveal event), every code of a selection in an export (recorded as one export event per
batch, with the count).

A partner client reveals (or gets a presentation token for) only the vouchers claimed
through it. Serials are sequential and not secret, so "any voucher whose serial you can
name" would let one `vouchers:reveal` key walk a batch; the scope `vouchers:reveal_any`
lifts that (API.md). Any other serial answers 404 exactly like an unknown one, and both
count towards the guessing limit of the client (`riskcontrol.rules.guessing`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.spreadsheets import spreadsheet_safe
from riskcontrol.crypto import codec
from riskcontrol.rules.guessing import guess_failure_record, guess_keys, guess_limit_check

from ..codes import format_code
from ..errors import InvalidTransition, VoucherFrozen, VoucherVoid
from ..models import Voucher, VoucherBatch, VoucherEvent
from ..secrets import code_aad, reveal_code
from .events import _batch_event, _event
from .transitions import S, _reason

BATCH_EXPORT_ACTION = "export_codes"


@transaction.atomic
def voucher_reveal(
    *, voucher: Voucher, actor: Actor, reason: str = "", for_partner: bool = False
) -> str:
    """The voucher's code, recorded as a reveal event (who, when, why).

    An unclaimed card secret is never revealed: seeing it would count as delivering it,
    and a delivered card secret must not go back to stock (void it first). A partner
    cannot reveal a frozen or void voucher. Locks the voucher row.
    """
    locked = (
        Voucher.objects.select_for_update(of=("self",)).select_related("batch").get(pk=voucher.pk)
    )
    if locked.batch.kind == VoucherBatch.Kind.CARD_SECRET and locked.status == S.AVAILABLE:
        raise InvalidTransition(
            _(
                "An unclaimed card secret cannot be revealed: it would count as delivered. "
                "Void it first if it must be inspected."
            )
        )
    if for_partner and locked.status == S.FROZEN:
        raise VoucherFrozen()
    if for_partner and locked.status == S.VOID:
        raise VoucherVoid()
    if actor.kind == "user" and not reason.strip():
        raise ValidationFailed({"reason": [_("Say why the code is needed.")]})
    _event(
        voucher=locked,
        action=VoucherEvent.Action.REVEAL,
        from_status=locked.status,
        to_status=locked.status,
        actor=actor,
        extra=_reason(reason.strip()),
    )
    return reveal_code(locked, locked.batch)


# --- Partners -------------------------------------------------------------------------------

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


# --- Export with codes ----------------------------------------------------------------------


def _code_export_header() -> list[str]:
    """The header row of a code export, in the operator's language (English: the column
    names); the states below it are named in that language too."""
    return [
        pgettext("code export column", "serial"),
        pgettext("code export column", "supplier_serial"),
        pgettext("code export column", "code"),
        pgettext("code export column", "status"),
        pgettext("code export column", "expires_at"),
    ]


def vouchers_export_codes(
    *, vouchers: models.QuerySet, actor: Actor, reason: str, file_format: str = "csv"
) -> Iterator[list[str]]:
    """Rows (serial, supplier serial, code, status, expires at) of `vouchers`, codes in
    clear, for an operator holding `vouchers.export_secrets`.

    The export is recorded before the first row, as ONE event per batch it touches
    (a `BatchEvent` "export_codes": who, when, why, how many codes, which format), not
    one reveal event per voucher: a 100,000-code export would otherwise bury the batch's
    recent voucher events under 100,000 identical lines and say less (no count, no
    format) than the one line does."""
    if not reason.strip():
        raise ValidationFailed({"reason": [_("Say why the codes are exported.")]})
    counts = dict(
        vouchers.order_by().values_list("batch_id").annotate(n=models.Count("id")).order_by()
    )
    with transaction.atomic():
        for batch in VoucherBatch.objects.filter(pk__in=counts).order_by("pk"):
            _batch_event(
                batch=batch,
                action=BATCH_EXPORT_ACTION,
                detail=f"{counts[batch.pk]} · {file_format} · {reason.strip()}",
                actor=actor,
                extra={"reason": reason.strip(), "count": counts[batch.pk], "format": file_format},
            )
    sealer = codec()
    yield _code_export_header()
    rows = vouchers.select_related("batch").order_by("batch_id", "sequence")
    for voucher in rows.iterator(chunk_size=2000):
        code = format_code(
            sealer.decrypt(
                voucher.secret_ciphertext, aad=code_aad(voucher.batch.code, voucher.serial)
            ),
            voucher.batch.code_format,
        )
        yield [
            spreadsheet_safe(voucher.serial),
            spreadsheet_safe(voucher.supplier_serial),
            spreadsheet_safe(code),
            str(S(voucher.status).label),
            timezone.localtime(voucher.expires_at).isoformat() if voucher.expires_at else "",
        ]
