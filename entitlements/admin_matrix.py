"""The tier benefit matrix as one grid (registered by `entitlements/admin.py`): a row per
benefit, a column per tier, each cell the quota, period and mode of the benefit in that
tier (an empty quota: not in the tier). The operator edits any cells and saves once;
`services.tier_matrix_save` validates, saves the changed cells in one transaction and
audits each. The grid is the matrix's list page, so the console home links to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import Tier
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from riskcontrol.models import AuditEvent

from .admin_catalog import benefit_status
from .models import Benefit, TierBenefit
from .services import Cell, tier_matrix, tier_matrix_save
from .services.matrix_edit import Grid, cell_key

DEFAULT_PERIOD = Benefit.Period.MONTH
DEFAULT_MODE = TierBenefit.Mode.CLAIMABLE


@dataclass
class GridCell:
    tier: Tier
    key: str
    quota: str
    period: str
    mode: str
    shown: str
    errors: list[str] = field(default_factory=list)


def _encode(cell: Cell | None) -> str:
    return "" if cell is None else f"{cell.quota}|{cell.period}|{cell.mode}"


def _decode(text: str) -> Cell | None:
    parts = (text or "").split("|")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    return Cell(int(parts[0]), parts[1], parts[2])


def _posted_grid(request: HttpRequest, tiers, benefits) -> tuple[Grid, Grid, dict]:
    """(cells as posted, cells as the page showed them, errors of unreadable quotas)."""
    cells: Grid = {}
    shown: Grid = {}
    errors: dict[str, list[str]] = {}
    for benefit in benefits:
        for tier in tiers:
            key = cell_key(tier.pk, benefit.pk)
            if f"o-{key}" not in request.POST:
                continue  # not on the page that was posted (added since)
            shown[(tier.pk, benefit.pk)] = _decode(request.POST[f"o-{key}"])
            quota = request.POST.get(f"q-{key}", "").strip()
            period = request.POST.get(f"p-{key}", DEFAULT_PERIOD)
            mode = request.POST.get(f"m-{key}", DEFAULT_MODE)
            if not quota:
                cells[(tier.pk, benefit.pk)] = None
            elif not quota.lstrip("-").isdigit():
                errors[key] = [gettext("Enter the quota as a whole number, e.g. 1.")]
            else:
                cells[(tier.pk, benefit.pk)] = Cell(int(quota), period, mode)
    return cells, shown, errors


def _change_text(changes: dict) -> str:
    """An audit event's changes as people read them: "quota: 1 → 2, period: …"."""
    parts = []
    for name, change in changes.items():
        try:
            label = TierBenefit._meta.get_field(name).verbose_name
        except FieldDoesNotExist:
            label = name
        if not isinstance(change, dict):
            parts.append(f"{label}")
            continue
        shown = [_value_label(name, change.get(end)) for end in ("from", "to")]
        parts.append(f"{label}: {shown[0]} → {shown[1]}")
    return "，".join(parts)


def _value_label(name: str, value) -> str:
    if value in (None, ""):
        return "—"
    choices = {"period": Benefit.Period, "mode": TierBenefit.Mode}.get(name)
    if choices and value in choices.values:
        return str(choices(value).label)
    return str(value)


class TierBenefitAdmin(admin.ModelAdmin):
    """Only the grid: no add, change or delete pages of single rows."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "",
                self.admin_site.admin_view(self.grid_view),
                name="entitlements_tierbenefit_changelist",
            ),
            path(
                "<path:object_id>/change/",
                self.admin_site.admin_view(self.row_view),
                name="entitlements_tierbenefit_change",
            ),
        ]

    def row_view(self, request: HttpRequest, object_id: str):
        """A single row (from the change log, say) opens the grid at its benefit."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = TierBenefit.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        anchor = f"#benefit-{row.benefit_id}" if row else ""
        return HttpResponseRedirect(reverse("admin:entitlements_tierbenefit_changelist") + anchor)

    def grid_view(self, request: HttpRequest):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        editable = self.has_change_permission(request)
        tiers = list(Tier.objects.order_by("rank"))
        benefits = list(Benefit.objects.order_by("priority", "code"))
        posted: dict[str, Cell | None] = {}
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            if not editable:
                raise PermissionDenied
            cells, shown, errors = _posted_grid(request, tiers, benefits)
            posted = {cell_key(*key): cell for key, cell in cells.items()}
            if not errors:
                try:
                    saved = tier_matrix_save(
                        cells=cells, shown=shown, actor=Actor.for_user(request.user, request)
                    )
                except ValidationFailed as error:
                    errors = {key: [str(m) for m in msgs] for key, msgs in error.errors.items()}
                else:
                    if saved:
                        self.message_user(
                            request,
                            gettext("The tier benefit matrix is saved: %(count)d cells changed.")
                            % {"count": saved},
                            messages.SUCCESS,
                        )
                    else:
                        self.message_user(request, gettext("Nothing changed."), messages.INFO)
                    return HttpResponseRedirect(request.path)
            self.message_user(
                request,
                gettext("Nothing was saved: please correct the cells marked below."),
                messages.ERROR,
            )
        current = tier_matrix()
        rows = []
        for benefit in benefits:
            cells_of_row = []
            for tier in tiers:
                key = cell_key(tier.pk, benefit.pk)
                saved_cell = current.get((tier.pk, benefit.pk))
                value = posted.get(key, saved_cell) if request.method == "POST" else saved_cell
                if request.method == "POST" and key in errors:
                    raw = request.POST
                    quota = raw.get(f"q-{key}", "")
                    period, mode = raw.get(f"p-{key}", DEFAULT_PERIOD), raw.get(f"m-{key}", "")
                else:
                    quota = str(value.quota) if value else ""
                    period = value.period if value else DEFAULT_PERIOD
                    mode = value.mode if value else DEFAULT_MODE
                cells_of_row.append(
                    GridCell(
                        tier=tier,
                        key=key,
                        quota=quota,
                        period=period,
                        mode=mode or DEFAULT_MODE,
                        shown=request.POST.get(f"o-{key}", _encode(saved_cell))
                        if request.method == "POST"
                        else _encode(saved_cell),
                        errors=errors.get(key, []),
                    )
                )
            rows.append(
                {
                    "benefit": benefit,
                    "status": benefit_status(benefit),
                    "url": reverse("admin:entitlements_benefit_change", args=[benefit.pk]),
                    "cells": cells_of_row,
                }
            )
        history = [
            (event, _change_text(event.changes))
            for event in AuditEvent.objects.filter(subject="entitlements.tierbenefit").order_by(
                "-created_at", "-id"
            )[:20]
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Tier benefit matrix"),
            "subtitle": None,
            "tiers": tiers,
            "rows": rows,
            "editable": editable,
            "periods": Benefit.Period.choices,
            "modes": TierBenefit.Mode.choices,
            "history": history,
            "catalog_url": reverse("admin:entitlements_benefit_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/entitlements/tierbenefit/matrix.html", context)
