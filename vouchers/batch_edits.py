"""Edits to a batch's own settings after it was created (the console's batch change form).

What a batch is worth, its kind, code format and quantity are fixed at creation
(`voucher_batch_create`); its lifecycle moves through the transition services. What is
left — name, validity, per-member limit, unclaimed redemption, cost and region — changes
here, under the rules a new batch meets, with a batch event naming the changes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes
from riskcontrol.core.errors import ValidationFailed

from .models import VoucherBatch
from .services import _batch_event

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
