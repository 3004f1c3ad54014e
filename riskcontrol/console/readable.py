"""Audit events for people: the record's kind, the action, the actor kind and the JSON
columns (changes, request context) as readable "field: value" lines, in the reader's
language. Codes stay in the database; only the display is translated."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from ..core.stamped import ACTOR_KINDS
from ..models import AuditEvent

AUDIT_ACTIONS = AuditEvent.ACTION_LABELS


def subject_name(subject: str) -> str:
    return AuditEvent(subject=subject).subject_name


def readable_fields(data, *, subject: str = "") -> str:
    """A JSON object (audit changes, a request context) as lines "field: value"; a change
    {"from": a, "to": b} as "a → b"; "changed" (personal data, values not kept) translated."""
    if not isinstance(data, dict) or not data:
        return "—"
    try:
        model = apps.get_model(subject) if subject else None
    except (LookupError, ValueError):
        model = None

    def field(name: str):
        try:
            return model._meta.get_field(name) if model is not None else None
        except Exception:  # not a model field (a sealed value's name, a context key)
            return None

    def field_name(name: str) -> str:
        found = field(name)
        if found is not None and hasattr(found, "verbose_name"):
            return str(found.verbose_name)
        return str(_CONTEXT_KEYS.get(name, name))

    def shown(name: str, item) -> str:
        choices = dict(getattr(field(name), "flatchoices", None) or ())
        if isinstance(item, dict) and set(item) <= {"from", "to"}:
            return f"{shown(name, item.get('from'))} → {shown(name, item.get('to'))}"
        if isinstance(item, str) and item in choices:
            return str(choices[item])
        return value(item)

    def value(item) -> str:
        if item == "changed":
            return str(_("changed (value not kept)"))
        if isinstance(item, dict) and set(item) <= {"from", "to"}:
            return f"{value(item.get('from'))} → {value(item.get('to'))}"
        if item in (None, "", [], {}):
            return "—"
        if isinstance(item, list):
            return "、".join(value(i) for i in item)
        return str(item)

    return format_html_join(
        mark_safe("<br>"), "{}: {}", ((field_name(k), shown(k, v)) for k, v in data.items())
    )


_CONTEXT_KEYS = {
    "phone": _("phone"),
    "email": _("e-mail"),
    "ip": _("IP address"),
    "request_id": _("request id"),
    "reason": _("reason"),
    "store": _("store"),
    "method": _("method"),
    "order_ref": _("order reference"),
    "export": _("export"),
}


class SubjectFilter(admin.SimpleListFilter):
    title = _("subject")
    parameter_name = "subject"

    def lookups(self, request, model_admin):
        subjects = AuditEvent.objects.order_by("subject").values_list("subject", flat=True)
        return [(s, subject_name(s)) for s in subjects.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(subject=self.value()) if self.value() else queryset


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True)
        return [(a, str(AUDIT_ACTIONS.get(a, a))) for a in actions.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ActorKindFilter(admin.SimpleListFilter):
    title = _("actor kind")
    parameter_name = "actor_kind"

    def lookups(self, request, model_admin):
        return [(kind, label) for kind, label in ACTOR_KINDS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(actor_kind=self.value()) if self.value() else queryset
