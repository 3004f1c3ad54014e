"""The member program's console pages (registered by `members/admin.py`): earning rules
and the tier policy, edited through the audited services in `members/program.py`, and
read-only lists of the program's ledgers (member events, points entries, growth
entries, tier changes), filtered by kind and date and searched by member external id.
The ledgers are written only by the services; nothing here changes them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from riskcontrol.console.readonly import ReadOnlyAdmin
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from .ledger_display import LedgerDisplayMixin, MemberEventDisplayMixin
from .models import EarningRule, GrowthEntry, MemberEvent, TierChange, TierPolicy
from .program import (
    earning_rule_clean,
    earning_rule_create,
    earning_rule_delete,
    earning_rule_update,
    tier_policy_update,
)

MEMBER_SEARCH_HELP = _("Exact member external id.")


def add_service_errors(form: forms.Form, error: ValidationFailed) -> None:
    """A service's field errors shown next to the form's fields (else on top)."""
    for field, messages in error.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(field if field in form.fields else None, str(message))


class EarningRuleForm(forms.ModelForm):
    tier_multipliers = forms.JSONField(
        label=_("tier multipliers"),
        required=False,
    )

    class Meta:
        model = EarningRule
        fields = [
            "code",
            "name",
            "event",
            "points",
            "points_per_yuan",
            "growth",
            "growth_per_yuan",
            "tier_multipliers",
            "daily_cap",
            "points_valid_months",
            "points_pending_days",
            "active",
        ]
        help_texts = {
            "code": _("Fixed once created; the program file names the rule by it."),
            "points": _("Points for each event. Leave empty when points count per yuan."),
            "points_per_yuan": _(
                "Points for each whole yuan of the amount (rounded down), e.g. 1. "
                "Leave empty when points count per event."
            ),
            "growth": _("Growth value for each event. Leave empty when it counts per yuan."),
            "growth_per_yuan": _(
                "Growth value for each whole yuan of the amount (rounded down). "
                "Leave empty when growth counts per event."
            ),
            "daily_cap": _("At most this many points per member per day; empty: no cap."),
            "points_valid_months": _(
                "Points expire at the end of the Nth month after the month they were "
                "earned in; empty: never."
            ),
            "points_pending_days": _(
                "Purchase points become spendable this many days after the purchase "
                "(the refund window); 0: at once."
            ),
            "active": _("Only active rules earn; a rule switched off keeps what it gave."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The kinds by name, each with the code to type (a code is data, not English).
        kinds = format_html_join(
            "、",
            "{}（<code>{}</code>）",
            ((label, code) for code, label in MemberEvent.Kind.choices),
        )
        self.fields["event"].help_text = format_html(
            "{} {} <code>custom.&lt;name&gt;</code>", _("The member event that earns:"), kinds
        )
        self.fields["tier_multipliers"].help_text = format_html(
            "{} <code>{}</code>",
            _(
                "Points are multiplied for members of these tiers (existing tier codes); "
                "leave empty for no multipliers. For example:"
            ),
            '{"gold": "1.5"}',
        )
        if self.instance.pk:
            self.fields["code"].disabled = True

    def service_fields(self) -> dict:
        return {key: self.cleaned_data.get(key) for key in self.Meta.fields if key != "code"}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            normalised = earning_rule_clean({**cleaned, "code": cleaned.get("code")})
        except ValidationFailed as error:
            add_service_errors(self, error)
            return cleaned
        cleaned["tier_multipliers"] = normalised["tier_multipliers"]
        cleaned["event"] = normalised["event"]
        return cleaned


class RuleEventFilter(admin.SimpleListFilter):
    """Rules by the event kind that earns, kinds by their names."""

    title = _("event kind")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        kinds = EarningRule.objects.order_by("event").values_list("event", flat=True).distinct()
        return [(kind, MemberEvent.kind_label(kind)) for kind in kinds]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() else queryset


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    form = EarningRuleForm
    list_display = [
        "code",
        "name",
        "event_label",
        "points",
        "points_per_yuan",
        "growth",
        "growth_per_yuan",
        "daily_cap",
        "points_valid_months",
        "points_pending_days",
        "active",
    ]
    list_filter = ["active", RuleEventFilter]

    @admin.display(description=_("event kind"), ordering="event")
    def event_label(self, obj: EarningRule) -> str:
        return MemberEvent.kind_label(obj.event)

    search_fields = ["code", "name"]
    fieldsets = [
        (None, {"fields": ["code", "name", "event", "active"]}),
        (
            _("What it earns"),
            {"fields": ["points", "points_per_yuan", "growth", "growth_per_yuan"]},
        ),
        (
            _("Limits and validity"),
            {
                "fields": [
                    "tier_multipliers",
                    "daily_cap",
                    "points_valid_months",
                    "points_pending_days",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change) -> None:
        actor = Actor.for_user(request.user, request)
        if change:
            earning_rule_update(rule=obj, **form.service_fields(), actor=actor)
            return
        obj.pk = earning_rule_create(
            code=form.cleaned_data["code"], **form.service_fields(), actor=actor
        ).pk

    def delete_model(self, request, obj) -> None:
        earning_rule_delete(earningrule=obj, actor=Actor.for_user(request.user, request))

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class TierPolicyForm(forms.ModelForm):
    class Meta:
        model = TierPolicy
        fields = ["qualifying_months", "hold_months", "downgrade"]
        help_texts = {
            "qualifying_months": _(
                "Growth value counts towards tiers for this many months, then drops out."
            ),
            "hold_months": _("A tier reached is kept at least this many months."),
            "downgrade": _(
                "At the end of the hold, a member whose growth value no longer keeps "
                "the tier goes down one step, down to the tier earned, or never."
            ),
        }

    def clean_qualifying_months(self):
        months = self.cleaned_data["qualifying_months"]
        if months < 1:
            raise forms.ValidationError(_("Growth value must count for at least 1 month."))
        return months


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    """One row: the list opens the policy itself; nothing to add or delete."""

    form = TierPolicyForm

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_object(self, request, object_id, from_field=None):
        # The policy row may not exist yet (its defaults apply): show the defaults; the
        # first save creates it through the service.
        if str(object_id) != "1":
            return None
        return TierPolicy.objects.filter(pk=1).first() or TierPolicy(pk=1)

    def changelist_view(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("admin:members_tierpolicy_change", args=[1]))

    def save_model(self, request, obj, form, change) -> None:
        tier_policy_update(
            qualifying_months=form.cleaned_data["qualifying_months"],
            hold_months=form.cleaned_data["hold_months"],
            downgrade=form.cleaned_data["downgrade"],
            actor=Actor.for_user(request.user, request),
        )


class ReadOnlyLedgerAdmin(ReadOnlyAdmin):
    """A ledger seen, never edited: rows are written by the member program's services."""

    list_per_page = 50
    show_full_result_count = False
    search_fields = ["=member__external_id"]
    search_help_text = MEMBER_SEARCH_HELP


class EventKindFilter(admin.SimpleListFilter):
    """The known kinds and "custom" (without a DISTINCT scan of the event table)."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [*MemberEvent.Kind.choices, ("custom", _("custom events"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "custom":
            return queryset.filter(kind__startswith="custom.")
        if value:
            return queryset.filter(kind=value)
        return queryset


@admin.register(MemberEvent)
class MemberEventAdmin(MemberEventDisplayMixin, ReadOnlyLedgerAdmin):
    list_display = [
        "occurred_at",
        "member",
        "kind_label",
        "amount",
        "order_ref",
        "event_id",
        "partner_client",
    ]
    list_filter = [EventKindFilter, "occurred_at"]
    list_select_related = ["member", "partner_client"]


# PointsEntry's console page (the ledger, with the adjust form) is members/admin_points.py.


@admin.register(GrowthEntry)
class GrowthEntryAdmin(LedgerDisplayMixin, ReadOnlyLedgerAdmin):
    list_display = ["occurred_at", "member", "amount", "reason", "event"]
    list_filter = ["occurred_at"]
    list_select_related = ["member", "event"]


@admin.register(TierChange)
class TierChangeAdmin(LedgerDisplayMixin, ReadOnlyLedgerAdmin):
    list_display = ["created_at", "member", "from_tier", "to_tier", "reason", "note", "by"]
    list_filter = ["reason", "to_tier", "created_at"]
    list_select_related = ["member", "from_tier", "to_tier"]
