"""How the member program's ledger rows read on console pages: event kinds and effects
by their names, the actor by name (a system actor translated), no raw who-did-it
columns. Shared by the ledgers' read-only pages (`program_admin`, `admin_points`)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import MemberEvent

# The stamp columns, shown as one "by" field instead.
STAMP_FIELDS = ("actor_kind", "actor_label", "user", "context")

EFFECT_LABELS = {
    "points": _("points"),
    "growth": _("growth value"),
    "tier_before": _("tier before"),
    "tier_after": _("tier after"),
    "points_shortfall": _("points not taken back"),
}


class LedgerDisplayMixin:
    """Read-only ledger pages: every model field except the stamp columns, plus "by"."""

    def get_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.name not in STAMP_FIELDS]
        names = [self.FIELD_DISPLAY.get(name, name) for name in names if name != "id"]
        return [*names, "by"] if hasattr(self.model, "actor_stamp") else names

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    FIELD_DISPLAY: dict[str, str] = {}

    @admin.display(description=_("by"))
    def by(self, obj) -> str:
        return obj.actor_display


class MemberEventDisplayMixin(LedgerDisplayMixin):
    FIELD_DISPLAY = {"kind": "kind_label", "effects": "effects_text"}

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj: MemberEvent) -> str:
        return MemberEvent.kind_label(obj.kind)

    @admin.display(description=_("effects"))
    def effects_text(self, obj: MemberEvent) -> str:
        rows = [
            (str(EFFECT_LABELS.get(key, key)), "—" if value is None else value)
            for key, value in (obj.effects or {}).items()
        ]
        if not rows:
            return "—"
        return format_html_join(format_html("<br>"), "{}: {}", rows)
