"""Batches: the rules a batch meets, creating, activating, pausing, resuming, closing,
and editing its settings afterwards.

What a batch is worth, its kind, code format and quantity are fixed at creation
(`voucher_batch_create`); freezing and voiding a whole batch move its vouchers, so they
live in `transitions`. What is left — name, validity, per-member limit, unclaimed
redemption, cost and region — changes through `voucher_batch_update`, under the rules a
new batch meets, with a batch event naming the changes.

Cycle breaker: this module imports `vouchers.tasks` at the top; `vouchers.tasks`
imports the services inside each task only (tasks <-> services).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes
from riskcontrol.core.errors import ValidationFailed

from ..errors import InvalidTransition
from ..models import VoucherBatch
from ..tasks import voucher_batch_generate_task
from .events import _batch_event

MAX_GENERATED_QUANTITY = 1_000_000


BATCH_RULE_FIELDS = (
    "code",
    "kind",
    "value_type",
    "face_value",
    "percent_off",
    "max_discount",
    "min_order_amount",
    "valid_from",
    "valid_until",
    "valid_days",
    "per_member_limit",
    "quantity",
    "code_format",
)


def voucher_batch_code_format(*, kind: str, generated: bool) -> str:
    """The code format a new batch gets unless told otherwise: card secrets (third-party
    codes) are kept exactly as delivered; codes we generate are read the Crockford way."""
    if kind == VoucherBatch.Kind.CARD_SECRET or not generated:
        return VoucherBatch.CodeFormat.EXACT
    return VoucherBatch.CodeFormat.CROCKFORD


def voucher_batch_validate(
    *,
    code: str,
    kind: str,
    value_type: str,
    face_value: Decimal,
    percent_off: Decimal | None,
    max_discount: Decimal | None,
    min_order_amount: Decimal | None,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    valid_days: int | None,
    per_member_limit: int | None,
    quantity: int | None,
    code_format: str | None = None,
) -> None:
    """The rules a new batch must meet, per field (raises ValidationFailed). The admin
    form calls it to show the messages next to the fields."""
    errors: dict[str, list[str]] = {}
    VT = VoucherBatch.ValueType
    if VoucherBatch.objects.filter(code=code).exists():
        errors["code"] = [_("A batch with this code already exists.")]
    if kind not in VoucherBatch.Kind.values:
        errors["kind"] = [_("Unknown kind: %(kind)s") % {"kind": kind}]
    if value_type not in VT.values:
        errors["value_type"] = [_("Unknown value type: %(type)s") % {"type": value_type}]
    if face_value < 0:
        errors["face_value"] = [_("The face value cannot be negative.")]
    if value_type in (VT.CASH, VT.THRESHOLD) and face_value <= 0:
        errors["face_value"] = [_("A cash or threshold voucher needs a face value above 0.")]
    if value_type == VT.PERCENT and not (percent_off and 0 < percent_off < 100):
        errors["percent_off"] = [_("A percent voucher needs a percentage between 0 and 100.")]
    if value_type != VT.PERCENT and percent_off is not None:
        errors["percent_off"] = [_("Only percent vouchers have a percentage.")]
    if max_discount is not None and (value_type != VT.PERCENT or max_discount <= 0):
        errors["max_discount"] = [_("Only percent vouchers have a maximum discount (above 0).")]
    if value_type == VT.THRESHOLD and (min_order_amount is None or min_order_amount < face_value):
        errors["min_order_amount"] = [
            _("A spend-X-save-Y voucher needs a minimum order of at least its face value.")
        ]
    if valid_from and valid_until and valid_from >= valid_until:
        errors["valid_until"] = [_("The end must come after the start.")]
    if valid_days is not None and valid_days <= 0:
        errors["valid_days"] = [_("Enter a number of days above 0.")]
    if per_member_limit is not None and per_member_limit <= 0:
        errors["per_member_limit"] = [_("Enter a limit above 0, or leave it empty for none.")]
    if code_format and code_format not in VoucherBatch.CodeFormat.values:
        errors["code_format"] = [_("Unknown code format: %(format)s") % {"format": code_format}]
    elif kind == VoucherBatch.Kind.CARD_SECRET and code_format not in (
        None,
        "",
        VoucherBatch.CodeFormat.EXACT,
    ):
        # Folding (O->0, I/L->1, case, dashes) would turn a supplier's code into one the
        # supplier does not know.
        errors["code_format"] = [
            _(
                "Card secrets are kept exactly as the supplier delivered them: a card-secret "
                "batch's code format is always “exact”."
            )
        ]
    if quantity is not None and not 0 < quantity <= MAX_GENERATED_QUANTITY:
        errors["quantity"] = [
            _("Generate between 1 and %(max)s vouchers per batch.")
            % {"max": f"{MAX_GENERATED_QUANTITY:,}"}
        ]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def voucher_batch_create(
    *,
    code: str,
    name: str,
    kind: str = VoucherBatch.Kind.COUPON,
    value_type: str = VoucherBatch.ValueType.CASH,
    face_value: Decimal = Decimal("0.00"),
    percent_off: Decimal | None = None,
    max_discount: Decimal | None = None,
    min_order_amount: Decimal | None = None,
    currency: str = "CNY",
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    valid_days: int | None = None,
    per_member_limit: int | None = 1,
    allow_unclaimed_redemption: bool = False,
    code_format: str | None = None,
    quantity: int | None = None,
    cost_per_voucher: Decimal | None = None,
    region: str = "",
    activate: bool = False,
    actor: Actor,
    generate: bool = True,
) -> VoucherBatch:
    """Create a batch. With `quantity`, its vouchers are generated in the background
    (`voucher_batch_generate`, enqueued after commit) and, with `activate`, the batch
    opens when they all exist. Without, it is an empty batch for card-stock imports.
    `generate=False` leaves generation to the caller (the CLI runs it inline)."""
    code = code.strip()
    voucher_batch_validate(
        code=code,
        kind=kind,
        value_type=value_type,
        face_value=face_value,
        percent_off=percent_off,
        max_discount=max_discount,
        min_order_amount=min_order_amount,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        per_member_limit=per_member_limit,
        quantity=quantity,
        code_format=code_format,
    )
    generated = bool(quantity)
    batch = VoucherBatch.objects.create(
        code=code,
        name=name.strip(),
        kind=kind,
        value_type=value_type,
        face_value=face_value,
        percent_off=percent_off,
        max_discount=max_discount,
        min_order_amount=min_order_amount,
        currency=currency,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        per_member_limit=per_member_limit,
        allow_unclaimed_redemption=allow_unclaimed_redemption,
        code_format=code_format or voucher_batch_code_format(kind=kind, generated=generated),
        source=VoucherBatch.Source.GENERATED if generated else VoucherBatch.Source.IMPORTED,
        quantity=quantity or 0,
        generation=VoucherBatch.Generation.PENDING if generated else VoucherBatch.Generation.NONE,
        activate_when_generated=activate and generated,
        status=VoucherBatch.Status.ACTIVE
        if activate and not generated
        else VoucherBatch.Status.DRAFT,
        cost_per_voucher=cost_per_voucher,
        region=region,
        created_by_id=actor.user_id,
    )
    _batch_event(batch=batch, action="create", detail=batch.status, actor=actor)
    if generated and generate:
        voucher_batch_generate_task.delay_on_commit(batch.pk)
    return batch


@transaction.atomic
def voucher_batch_activate(*, batch: VoucherBatch, actor: Actor) -> VoucherBatch:
    """Open a draft batch for claims. Locks the batch row; a generated batch must be
    complete first."""
    locked = VoucherBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != VoucherBatch.Status.DRAFT:
        raise InvalidTransition(
            _("Only a draft batch can be activated; this one is %(status)s.")
            % {"status": locked.get_status_display()}
        )
    if locked.source == VoucherBatch.Source.GENERATED and locked.generation != (
        VoucherBatch.Generation.DONE
    ):
        raise InvalidTransition(_("The batch is still being generated."))
    locked.status = VoucherBatch.Status.ACTIVE
    locked.save(update_fields=["status", "updated_at"])
    _batch_event(batch=locked, action="activate", detail="", actor=actor)
    return locked


_BATCH_MOVES = {
    "pause": ((VoucherBatch.Status.ACTIVE,), VoucherBatch.Status.PAUSED),
    "resume": ((VoucherBatch.Status.PAUSED,), VoucherBatch.Status.ACTIVE),
    "close": (
        (VoucherBatch.Status.DRAFT, VoucherBatch.Status.ACTIVE, VoucherBatch.Status.PAUSED),
        VoucherBatch.Status.CLOSED,
    ),
}


_BATCH_MOVE_LABELS = {
    "pause": gettext_lazy("paused"),
    "resume": gettext_lazy("resumed"),
    "close": gettext_lazy("closed"),
}


@transaction.atomic
def _batch_move(*, batch: VoucherBatch, move: str, actor: Actor, reason: str) -> VoucherBatch:
    allowed, target = _BATCH_MOVES[move]
    updated = VoucherBatch.objects.filter(pk=batch.pk, status__in=allowed).update(
        status=target, updated_at=timezone.now()
    )
    current = VoucherBatch.objects.get(pk=batch.pk)
    if not updated:
        raise InvalidTransition(
            _("Batch %(code)s is %(status)s; it cannot be %(move)s.")
            % {
                "code": current.code,
                "status": current.get_status_display(),
                "move": _BATCH_MOVE_LABELS[move],
            }
        )
    _batch_event(batch=current, action=move, detail=reason, actor=actor)
    return current


def voucher_batch_pause(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    """Stop claims for now (active -> paused)."""
    return _batch_move(batch=batch, move="pause", actor=actor, reason=reason)


def voucher_batch_resume(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    return _batch_move(batch=batch, move="resume", actor=actor, reason=reason)


def voucher_batch_close(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    """No more claims, for good. Vouchers already held stay usable until they expire."""
    return _batch_move(batch=batch, move="close", actor=actor, reason=reason)


# --- Edits after creation ------------------------------------------------------------------

BATCH_EDITABLE_FIELDS = (
    "name",
    "valid_from",
    "valid_until",
    "valid_days",
    "per_member_limit",
    "allow_unclaimed_redemption",
    "cost_per_voucher",
    "region",
)


def voucher_batch_update_validate(
    *,
    name: str,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    valid_days: int | None,
    per_member_limit: int | None,
    cost_per_voucher: Decimal | None,
    **_unchecked: object,
) -> None:
    """The rules an edited batch must meet, per field (raises ValidationFailed). The
    console's change form calls it to show the messages next to the fields."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("A batch needs a name.")]
    if valid_from and valid_until and valid_from >= valid_until:
        errors["valid_until"] = [_("The end must come after the start.")]
    if valid_days is not None and valid_days <= 0:
        errors["valid_days"] = [_("Enter a number of days above 0.")]
    if per_member_limit is not None and per_member_limit <= 0:
        errors["per_member_limit"] = [_("Enter a limit above 0, or leave it empty for none.")]
    if cost_per_voucher is not None and cost_per_voucher < 0:
        errors["cost_per_voucher"] = [_("The cost cannot be negative.")]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def voucher_batch_update(
    *,
    batch: VoucherBatch,
    name: str,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    valid_days: int | None,
    per_member_limit: int | None,
    allow_unclaimed_redemption: bool,
    cost_per_voucher: Decimal | None,
    region: str,
    actor: Actor,
) -> VoucherBatch:
    """Change a batch's editable settings. Locks the batch row and writes one batch event
    ("update") naming the changed fields, with old and new values in its context; an
    edit that changes nothing writes nothing. Vouchers already claimed keep the expiry
    they were given."""
    values = {
        "name": name.strip(),
        "valid_from": valid_from,
        "valid_until": valid_until,
        "valid_days": valid_days,
        "per_member_limit": per_member_limit,
        "allow_unclaimed_redemption": allow_unclaimed_redemption,
        "cost_per_voucher": cost_per_voucher,
        "region": region.strip(),
    }
    voucher_batch_update_validate(**values)
    locked = VoucherBatch.objects.select_for_update().get(pk=batch.pk)
    changes = audit_changes({field: getattr(locked, field) for field in values}, values)
    if not changes:
        return locked
    for field, value in values.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*values, "updated_at"])
    _batch_event(
        batch=locked,
        action="update",
        detail=", ".join(changes),
        actor=actor,
        extra={"changes": changes},
    )
    return locked
