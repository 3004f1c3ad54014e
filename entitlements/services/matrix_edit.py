"""The tier benefit matrix as one grid: read it (`tier_matrix`) and save an operator's
edits of many cells at once (`tier_matrix_save`).

A cell is a tier and a benefit; its value is (quota, period, mode), or None when the
benefit is not in the tier. Saving applies only the cells the operator changed (the
posted value differs from the value the page showed), all in one transaction: the
changed cells' rows are locked in primary-key order, and a cell someone else changed
since the page was read is refused (no silent overwrite). Every row created, changed
or deleted is audited with the actor, as the member program's console edits are
(`riskcontrol.core.audit`). Nothing is saved when any cell is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from members.models import Tier
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import ValidationFailed

from ..models import Benefit, TierBenefit
from .automatic import benefits_needing_input


@dataclass(frozen=True)
class Cell:
    quota: int
    period: str
    mode: str


Key = tuple[int, int]  # (tier id, benefit id)
Grid = dict[Key, Cell | None]


def cell_key(tier_id: int, benefit_id: int) -> str:
    """A cell's name in error dicts and in the grid's form fields."""
    return f"{tier_id}-{benefit_id}"


def tier_matrix() -> Grid:
    """Every cell that holds a row, one query."""
    return {
        (row.tier_id, row.benefit_id): Cell(row.quota, row.period, row.mode)
        for row in TierBenefit.objects.all()
    }


def cell_errors(cell: Cell, *, needs_input: bool = False) -> list[str]:
    """Why a cell's value cannot be saved, in plain sentences. `needs_input`: the
    benefit needs the member's address or account (a gift, a top-up, or a pack holding
    one), so only the member can claim it. A lifetime period with `each_period` is
    granted once (the program file's rule too)."""
    errors: list[str] = []
    if cell.quota < 1:
        errors.append(_("The quota must be at least 1; clear it to take the benefit out."))
    if cell.period not in Benefit.Period.values:
        errors.append(_("Choose a period."))
    if cell.mode not in TierBenefit.Mode.values:
        errors.append(_("Choose how the benefit is granted."))
    if needs_input and cell.mode != TierBenefit.Mode.CLAIMABLE:
        errors.append(
            _(
                "This benefit needs the member's address or account, so it can only be "
                "claimed by the member, not granted automatically."
            )
        )
    return errors


def _snapshot(cell: Cell | None) -> dict:
    if cell is None:
        return {}
    return {"quota": cell.quota, "period": cell.period, "mode": cell.mode}


@transaction.atomic
def tier_matrix_save(*, cells: Grid, shown: Grid, actor: Actor) -> int:
    """Save the cells whose value in `cells` differs from `shown` (what the operator's
    page showed). Returns how many rows were created, changed or deleted. Raises
    ValidationFailed keyed by `cell_key` (plain sentences) when a value is invalid or a
    cell changed underneath; then nothing is saved."""
    changed = {key: cell for key, cell in cells.items() if cell != shown.get(key)}
    if not changed:
        return 0
    errors: dict[str, list[str]] = {}
    tiers = Tier.objects.in_bulk({tier_id for tier_id, _b in changed})
    benefits = Benefit.objects.in_bulk({benefit_id for _t, benefit_id in changed})
    needing = benefits_needing_input(benefits)
    for key, cell in changed.items():
        if key[0] not in tiers or key[1] not in benefits:
            errors[cell_key(*key)] = [_("This tier or benefit no longer exists.")]
        elif cell is not None and cell_errors(cell, needs_input=key[1] in needing):
            errors[cell_key(*key)] = cell_errors(cell, needs_input=key[1] in needing)
    if errors:
        raise ValidationFailed(errors)
    rows = {
        (row.tier_id, row.benefit_id): row
        for row in TierBenefit.objects.select_for_update()
        .filter(tier_id__in={t for t, _b in changed}, benefit_id__in={b for _t, b in changed})
        .order_by("pk")
    }
    for key in changed:
        row = rows.get(key)
        now = Cell(row.quota, row.period, row.mode) if row else None
        if now != shown.get(key):
            errors[cell_key(*key)] = [
                _("Someone else changed this cell since you opened the page; reload and retry.")
            ]
    if errors:
        raise ValidationFailed(errors)
    saved = 0
    for key, cell in sorted(changed.items()):
        row = rows.get(key)
        label = f"{tiers[key[0]].code} · {benefits[key[1]].code}"
        before = _snapshot(Cell(row.quota, row.period, row.mode) if row else None)
        if cell is None:
            audit_record(subject=row, action="delete", actor=actor, changes={}, label=label)
            row.delete()
        else:
            row = row or TierBenefit(tier_id=key[0], benefit_id=key[1])
            row.quota, row.period, row.mode = cell.quota, cell.period, cell.mode
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:  # a concurrent save created the cell first
                raise ValidationFailed(
                    {
                        cell_key(*key): [
                            _(
                                "Someone else changed this cell since you opened the page; "
                                "reload and retry."
                            )
                        ]
                    }
                ) from None
            audit_record(
                subject=row,
                action="update" if before else "create",
                actor=actor,
                changes=audit_changes(before, _snapshot(cell)),
                label=label,
            )
        saved += 1
    return saved
