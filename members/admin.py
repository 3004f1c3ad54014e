from __future__ import annotations

import functools

from django import forms
from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from riskcontrol.console.exports import LabelledExportForm
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from . import (
    admin_points,  # noqa: F401  (registers the points ledger)
    pii,
    program_admin,  # noqa: F401  (registers the member program's pages)
    selectors,
)
from .admin_tiers import member_tier_view
from .models import Member, Tag, Tier
from .program import (
    tag_create,
    tag_delete,
    tag_update,
    tier_create,
    tier_delete,
    tier_threshold_errors,
    tier_update,
)
from .regions import validate_province_code
from .resources import MemberResource
from .services import UNSET, member_delete, member_upsert
from .timeline import member_timeline


class ServiceDeleteMixin:
    """Deletes, one or many, go through the app's delete service (audited)."""

    delete_service = None  # a service taking (<model name>=obj, actor=actor)

    def delete_model(self, request, obj) -> None:
        self.delete_service(
            **{self.model._meta.model_name: obj}, actor=Actor.for_user(request.user, request)
        )

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class TierForm(forms.ModelForm):
    """Thresholds rise with rank and the lowest tier's is 0: checked against the other
    tiers, as a sentence on the field."""

    class Meta:
        model = Tier
        fields = ["code", "name", "rank", "threshold", "retention", "description"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        errors = tier_threshold_errors(
            tier_pk=self.instance.pk,
            rank=cleaned["rank"],
            threshold=cleaned.get("threshold") or 0,
            retention=cleaned.get("retention"),
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field, message)
        return cleaned


@admin.register(Tier)
class TierAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    form = TierForm
    list_display = ["code", "name", "rank", "threshold", "retention"]
    search_fields = ["code", "name"]
    ordering = ["rank"]
    fields = ["code", "name", "rank", "threshold", "retention", "description"]
    delete_service = staticmethod(tier_delete)

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        keys = ("name", "rank", "threshold", "retention", "description")
        fields = {key: data.get(key) for key in keys if key in data}
        actor = Actor.for_user(request.user, request)
        if change:
            tier_update(tier=obj, **fields, actor=actor)
            return
        obj.pk = tier_create(code=data["code"], **fields, actor=actor).pk


@admin.register(Tag)
class TagAdmin(ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    delete_service = staticmethod(tag_delete)

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        actor = Actor.for_user(request.user, request)
        if change:
            tag_update(tag=obj, name=data["name"], actor=actor)
            return
        obj.pk = tag_create(code=data["code"], name=data["name"], actor=actor).pk


def _n(number: int) -> str:
    return f"{number:,}"


def member_program_panel(*, member: Member, user) -> dict:
    """What the member page shows above the form: points, next expiry, tier progress,
    the tier's dates, the lifecycle stage, and the timeline."""
    now = timezone.now()
    points = selectors.member_points_summary(member=member, now=now)
    progress = selectors.member_tier_ladder(member=member, now=now)
    if progress.next_tier is not None:
        tier_progress = _("%(growth)s of %(threshold)s to %(tier)s (%(needed)s to go)") % {
            "growth": _n(progress.qualifying_growth),
            "threshold": _n(progress.next_tier.threshold),
            "tier": progress.next_tier.name,
            "needed": _n(progress.growth_needed),
        }
    elif progress.tier is not None:
        tier_progress = _("%(growth)s: already at the top tier, %(tier)s.") % {
            "growth": _n(progress.qualifying_growth),
            "tier": progress.tier.name,
        }
    else:
        tier_progress = _("No tiers are set up yet.")
    if points.next_expiry_at is not None:
        expiry = _("%(amount)s points on %(date)s") % {
            "amount": _n(points.next_expiry_amount),
            "date": timezone.localtime(points.next_expiry_at).date().isoformat(),
        }
    else:
        expiry = _("No points due to expire.")
    return {
        "points": _("%(balance)s (spendable %(spendable)s, pending %(pending)s)")
        % {
            "balance": _n(points.balance),
            "spendable": _n(points.spendable),
            "pending": _n(points.pending),
        },
        "expiry": expiry,
        "tier": progress.tier.name if progress.tier else _("no tier"),
        "tier_progress": tier_progress,
        "growth_value": _n(member.growth_value),
        "held_until": member.tier_held_until,
        "manual_until": member.tier_manual_until,
        "stage": member.get_lifecycle_stage_display(),
        "last_event_at": member.last_event_at,
        "timeline": member_timeline(member=member, user=user),
    }


class MemberForm(forms.ModelForm):
    """Phone and e-mail are never shown in full: a blank field keeps the stored value."""

    phone = forms.CharField(label=_("phone"), max_length=32, required=False)
    email = forms.CharField(label=_("e-mail"), max_length=254, required=False)
    clear_phone = forms.BooleanField(label=_("remove phone"), required=False)
    clear_email = forms.BooleanField(label=_("remove e-mail"), required=False)

    class Meta:
        model = Member
        fields = [
            "external_id",
            "name",
            "phone",
            "email",
            "birthday",
            "tier",
            "tags",
            "lifecycle_stage",
            "region",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "region" in self.fields:
            self.fields["region"].validators.append(validate_province_code)
        if self.instance.pk and "external_id" in self.fields:  # not for view-only users
            self.fields["external_id"].disabled = True
            # Tiers change by growth, or by hand with a reason and an end date.
            self.fields["tier"].disabled = True
            self.fields["tier"].help_text = format_html(
                '<a href="{}" id="set-tier-link">{}</a>',
                reverse("admin:members_member_tier", args=[self.instance.pk]),
                _("Set tier by hand"),
            )
            for field, masked in (
                ("phone", selectors.member_phone_masked(self.instance)),
                ("email", selectors.member_email_masked(self.instance)),
            ):
                self.fields[field].help_text = (
                    _("Stored: %(masked)s. Type a new value to replace it, or leave it blank.")
                    % {"masked": masked}
                    if masked
                    else _("None stored.")
                )

    def upsert_arguments(self) -> dict:
        data = self.cleaned_data
        arguments = {
            "external_id": data["external_id"],
            "name": data["name"],
            "birthday": data["birthday"],
            "tier": data["tier"].code if data["tier"] else None,
            "tags": [tag.code for tag in data["tags"]],
            "lifecycle_stage": data["lifecycle_stage"],
            "region": data.get("region", ""),
        }
        for field in ("phone", "email"):
            if data[f"clear_{field}"]:
                arguments[field] = None
            elif data[field]:
                arguments[field] = data[field]
            else:
                arguments[field] = UNSET
        return arguments

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # Ask the service to validate contacts now, so errors show next to the fields.
        for field, normalise in (("phone", pii.normalise_phone), ("email", pii.normalise_email)):
            if cleaned.get(field):
                try:
                    normalise(cleaned[field])
                except pii.InvalidContact as error:
                    self.add_error(field, str(error))
        return cleaned


@admin.register(Member)
class MemberAdmin(ServiceDeleteMixin, ImportExportMixin, admin.ModelAdmin):
    """Phones and e-mails are masked in the list and in exports; imports go through
    member_upsert, like the API."""

    form = MemberForm
    resource_classes = [MemberResource]
    export_form_class = LabelledExportForm
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = [
        "external_id",
        "name",
        "masked_phone",
        "masked_email",
        "tier",
        "lifecycle_stage",
        "points",
        "created_at",
    ]
    list_filter = ["tier", "lifecycle_stage", "tags", "region"]
    search_fields = ["external_id", "name"]
    search_help_text = _("External id, name, or an exact phone number or e-mail address.")
    list_select_related = ["tier"]
    readonly_fields = ["points", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "external_id",
                    "name",
                    "tier",
                    "tags",
                    "lifecycle_stage",
                    "birthday",
                    "region",
                ]
            },
        ),
        (_("Contact (encrypted)"), {"fields": ["phone", "clear_phone", "email", "clear_email"]}),
        (_("Ledger"), {"fields": ["points", "created_at", "updated_at"]}),
    ]
    filter_horizontal = ["tags"]
    delete_service = staticmethod(member_delete)
    change_form_template = "admin/members/member/change_form.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["program"] = member_program_panel(member=obj, user=request.user)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/tier/",
                self.admin_site.admin_view(functools.partial(member_tier_view, self)),
                name="members_member_tier",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: Member) -> str:
        return selectors.member_phone_masked(obj) or "—"

    @admin.display(description=_("e-mail"))
    def masked_email(self, obj: Member) -> str:
        return selectors.member_email_masked(obj) or "—"

    def get_search_results(self, request, queryset, search_term):
        base = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            queryset |= base.filter(pk__in=selectors.members_by_contact(term).values("pk"))
        return queryset, may_have_duplicates

    def save_model(self, request, obj, form, change) -> None:
        try:
            member, _created = member_upsert(
                **form.upsert_arguments(), actor=Actor.for_user(request.user, request)
            )
        except ValidationFailed as error:  # validated in the form already; defensive
            raise forms.ValidationError(str(error.errors)) from error
        obj.pk = member.pk

    def save_related(self, request, form, formsets, change) -> None:
        # Tags were set by member_upsert; only inline formsets are left to save.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


# The segment console lives in its own module; importing it registers it.
from . import segments_admin  # noqa: E402, F401
