"""The points ledger in the console: a read-only list of entries with filters, and the
operator's adjustment (+/-, with a reason) as the list's "add" page, through
`points_adjust`."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed

from .ledger_display import LedgerDisplayMixin
from .models import Member, PointsEntry
from .services import points_adjust


class PointsAdjustForm(forms.Form):
    member = forms.CharField(
        label=_("member external id"),
        max_length=64,
        help_text=_("The member's external id, e.g. M1001."),
    )
    amount = forms.IntegerField(
        label=_("points"),
        help_text=_("Positive adds points, negative takes points away."),
    )
    reason = forms.CharField(label=_("reason"), max_length=200)
    expires_at = forms.DateTimeField(
        label=_("expires at"),
        required=False,
        help_text=_("Only for added points; empty: they never expire."),
    )

    def clean_member(self) -> Member:
        member = Member.objects.filter(external_id=self.cleaned_data["member"].strip()).first()
        if member is None:
            raise forms.ValidationError(_("No member with this external id."))
        return member


class ExpiresFilter(admin.SimpleListFilter):
    title = _("lot")
    parameter_name = "lot"

    def lookups(self, request, model_admin):
        return [("open", _("open lots (points left)")), ("pending", _("pending lots"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(remaining__gt=0)
        if self.value() == "pending":
            return queryset.filter(remaining__gt=0, activates_at__isnull=False).exclude(
                activates_at__lte=timezone.now()
            )
        return queryset


@admin.register(PointsEntry)
class PointsEntryAdmin(LedgerDisplayMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "member",
        "kind",
        "amount",
        "balance_after",
        "remaining",
        "activates_at",
        "expires_at",
        "shortfall",
        "reason",
        "ref",
        "by",
    ]
    list_filter = ["kind", ExpiresFilter, "created_at", "expires_at"]
    search_fields = ["member__external_id", "ref"]
    list_select_related = ["member"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url="", extra_context=None) -> HttpResponse:
        """The adjustment form instead of a raw entry form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PointsAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = points_adjust(
                    member=data["member"],
                    amount=data["amount"],
                    reason=data["reason"],
                    expires_at=data.get("expires_at"),
                    actor=Actor.for_user(request.user, request),
                )
            except ValidationFailed as error:
                for field, problems in error.errors.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, str(problem))
            except DomainError as error:
                form.add_error("amount", str(error.detail))
            else:
                self.message_user(
                    request,
                    gettext("Points adjusted by %(amount)+d; the balance is now %(balance)d.")
                    % {"amount": entry.amount, "balance": entry.balance_after},
                    messages.SUCCESS,
                )
                changelist = reverse("admin:members_pointsentry_changelist")
                return HttpResponseRedirect(f"{changelist}?q={data['member'].external_id}")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Adjust points"),
            "form": form,
            "opts": self.model._meta,
            "media": self.media + form.media,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/members/pointsentry/adjust.html", context)
