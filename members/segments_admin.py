"""The segment console: conditions as form fields (saved as `Segment.conditions`, the
same JSON the program file and `members.services.segments` read), the live count and a
sample of 20 members on the change page, and "tag members of this segment" as a
confirmed action. Registered from members/admin.py."""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from riskcontrol.console.confirm import confirmed_action
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from .models import Member, Segment, Tag, Tier
from .services import (
    segment_conditions_errors,
    segment_count,
    segment_sample,
    segment_save,
    segment_tag_members,
)

MONTHS = [(month, str(month)) for month in range(1, 13)]

# Form field -> (condition key, key inside "purchases" or None).
SIMPLE = {
    "tiers": "tiers",
    "stages": "stages",
    "tags_any": "tags_any",
    "tags_all": "tags_all",
    "tags_none": "tags_none",
    "points_min": "points_min",
    "points_max": "points_max",
    "birthday_months": "birthday_months",
    "regions": "regions",
}
PURCHASES = {
    "purchases_days": "days",
    "purchases_count_min": "count_min",
    "purchases_count_max": "count_max",
    "purchases_amount_min": "amount_min",
    "purchases_amount_max": "amount_max",
}
MOMENTS = {
    "last_event_after": ("last_event_after_date", "last_event_after_days"),
    "last_event_before": ("last_event_before_date", "last_event_before_days"),
}


def _codes(model) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=model.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class SegmentForm(forms.ModelForm):
    """Each condition is a field; empty fields are no condition. All given conditions
    must hold."""

    tiers = _codes(Tier)
    stages = forms.MultipleChoiceField(
        choices=Member.LifecycleStage.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags_any = _codes(Tag)
    tags_all = _codes(Tag)
    tags_none = _codes(Tag)
    points_min = forms.IntegerField(min_value=0, required=False)
    points_max = forms.IntegerField(min_value=0, required=False)
    purchases_days = forms.IntegerField(min_value=1, required=False)
    purchases_count_min = forms.IntegerField(min_value=0, required=False)
    purchases_count_max = forms.IntegerField(min_value=0, required=False)
    purchases_amount_min = forms.DecimalField(min_value=0, decimal_places=2, required=False)
    purchases_amount_max = forms.DecimalField(min_value=0, decimal_places=2, required=False)
    last_event_after_date = forms.DateField(required=False)
    last_event_after_days = forms.IntegerField(min_value=0, required=False)
    last_event_before_date = forms.DateField(required=False)
    last_event_before_days = forms.IntegerField(min_value=0, required=False)
    birthday_months = forms.TypedMultipleChoiceField(
        choices=MONTHS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    regions = forms.CharField(required=False)

    class Meta:
        model = Segment
        fields = ["code", "name", "tag", "tag_on_schedule"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {
            "tiers": (_("tiers"), _("Members holding one of these tiers.")),
            "stages": (_("lifecycle stages"), _("Members in one of these stages.")),
            "tags_any": (_("any of these tags"), _("Members carrying at least one of them.")),
            "tags_all": (_("all of these tags"), _("Members carrying every one of them.")),
            "tags_none": (_("none of these tags"), _("Members carrying none of them.")),
            "points_min": (_("points at least"), ""),
            "points_max": (_("points at most"), ""),
            "purchases_days": (
                _("purchases in the last … days"),
                _(
                    "The window for the purchase conditions below. The count is the number "
                    "of purchases; the amount is net of refunds in the same window."
                ),
            ),
            "purchases_count_min": (_("purchases at least"), ""),
            "purchases_count_max": (_("purchases at most"), ""),
            "purchases_amount_min": (_("amount spent at least (yuan)"), ""),
            "purchases_amount_max": (_("amount spent at most (yuan)"), ""),
            "last_event_after_date": (_("last event on or after (date)"), ""),
            "last_event_after_days": (
                _("last event within the last … days"),
                _("Give a date or a number of days, not both."),
            ),
            "last_event_before_date": (_("last event before (date)"), ""),
            "last_event_before_days": (
                _("no event in the last … days"),
                _("Members who never had an event are not included."),
            ),
            "birthday_months": (_("birthday month"), ""),
            "regions": (
                _("regions"),
                _("Province codes separated by commas, e.g. 310000, 440000."),
            ),
        }
        for name, (label, help_text) in labels.items():
            self.fields[name].label = label
            self.fields[name].help_text = help_text
        if self.instance.pk:
            self.fields["code"].disabled = True
            self._load(self.instance.conditions or {})

    def _load(self, conditions: dict) -> None:
        for field, key in SIMPLE.items():
            if key in conditions:
                value = conditions[key]
                self.initial[field] = ", ".join(value) if field == "regions" else value
        for field, key in PURCHASES.items():
            if key in conditions.get("purchases", {}):
                self.initial[field] = conditions["purchases"][key]
        for key, (date_field, days_field) in MOMENTS.items():
            value = conditions.get(key)
            if isinstance(value, int):
                self.initial[days_field] = value
            elif isinstance(value, str):
                self.initial[date_field] = value

    def conditions(self) -> dict:
        data = self.cleaned_data
        conditions: dict = {}
        for field, key in SIMPLE.items():
            value = data.get(field)
            if field == "regions":
                value = [part.strip() for part in (value or "").split(",") if part.strip()]
            elif hasattr(value, "values_list"):
                value = sorted(value.values_list("code", flat=True))
            if value not in (None, "", []):
                conditions[key] = value
        purchases = {}
        for field, key in PURCHASES.items():
            value = data.get(field)
            if value is not None:
                purchases[key] = str(value) if isinstance(value, Decimal) else value
        if purchases:
            conditions["purchases"] = purchases
        for key, (date_field, days_field) in MOMENTS.items():
            if data.get(date_field) and data.get(days_field) is not None:
                self.add_error(days_field, _("Give a date or a number of days, not both."))
            elif data.get(date_field):
                conditions[key] = data[date_field].isoformat()
            elif data.get(days_field) is not None:
                conditions[key] = data[days_field]
        return conditions

    def _field_of(self, key: str) -> str | None:
        if key.startswith("purchases."):
            sub = key.split(".", 1)[1]
            return next((f for f, k in PURCHASES.items() if k == sub), "purchases_days")
        if key == "purchases":
            return "purchases_days"
        if key in MOMENTS:
            return MOMENTS[key][1]
        return next((f for f, k in SIMPLE.items() if k == key), None)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        conditions = self.conditions()
        for key, messages in segment_conditions_errors(conditions).items():
            for message in messages:
                self.add_error(self._field_of(key), message)
        self.instance.conditions = conditions
        return cleaned


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["code", "name", "tag", "tag_on_schedule", "last_count", "last_tagged_at"]
    search_fields = ["code", "name"]
    list_select_related = ["tag"]
    readonly_fields = ["live_count", "sample", "conditions_json", "last_count", "last_tagged_at"]
    actions = ["tag_members"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["code", "name", "tag", "tag_on_schedule"]}),
            (
                _("Tiers, stages and tags"),
                {"fields": ["tiers", "stages", "tags_any", "tags_all", "tags_none"]},
            ),
            (
                _("Points and purchases"),
                {
                    "fields": [
                        ("points_min", "points_max"),
                        "purchases_days",
                        ("purchases_count_min", "purchases_count_max"),
                        ("purchases_amount_min", "purchases_amount_max"),
                    ]
                },
            ),
            (
                _("Activity, birthday and region"),
                {
                    "fields": [
                        ("last_event_after_date", "last_event_after_days"),
                        ("last_event_before_date", "last_event_before_days"),
                        "birthday_months",
                        "regions",
                    ]
                },
            ),
        ]
        if obj is not None:
            fieldsets.insert(
                1,
                (
                    _("Members now"),
                    {
                        "fields": [
                            "live_count",
                            "sample",
                            "conditions_json",
                            "last_count",
                            "last_tagged_at",
                        ]
                    },
                ),
            )
        return fieldsets

    @admin.display(description=_("members now"))
    def live_count(self, obj: Segment) -> str:
        try:
            return format(segment_count(obj), ",")
        except ValidationFailed as error:
            problems = "; ".join(
                f"{key}: {' '.join(map(str, m))}" for key, m in error.errors.items()
            )
            return _("The conditions no longer hold (%(problems)s): fix them below.") % {
                "problems": problems
            }

    @admin.display(description=_("sample (20)"))
    def sample(self, obj: Segment) -> str:
        try:
            members = segment_sample(obj)
        except ValidationFailed:
            return "—"
        if not members:
            return _("No member matches.")
        rows = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:members_member_change", args=[member.pk]),
                    member.external_id,
                    member.name,
                    member.tier or "—",
                    member.get_lifecycle_stage_display(),
                    member.points,
                )
                for member in members
            ),
        )
        return format_html(
            "<table class='segment-sample'><thead><tr><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("external id"),
            _("name"),
            _("tier"),
            _("lifecycle stage"),
            _("points"),
            rows,
        )

    @admin.display(description=_("conditions (JSON)"))
    def conditions_json(self, obj: Segment) -> str:
        return format_html("<code>{}</code>", json.dumps(obj.conditions, ensure_ascii=False))

    def save_model(self, request, obj, form, change) -> None:
        segment_save(segment=obj, actor=Actor.for_user(request.user, request))

    tag_members = confirmed_action(
        service=segment_tag_members,
        permission="change",
        description=_("Tag the members of the selected segments"),
        each=lambda segment: {"segment": segment},
        label=lambda segment: segment.name,
        done=lambda segment, tagged: (
            _("%(segment)s: %(n)s members newly tagged “%(tag)s”.")
            % {"segment": segment.name, "n": format(tagged, ","), "tag": segment.tag}
        ),
        ask_reason=False,
        title=_("Tag the members of these segments?"),
        message=_(
            "Every member who matches a segment now gets the segment's tag. Members who "
            "carry the tag already keep it; nobody loses a tag."
        ),
        button=_("Yes, tag them"),
    )
