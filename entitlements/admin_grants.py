"""The grants console (registered by `entitlements/admin.py`): every grant, whatever the
route, filtered by benefit, route, status, fulfilment and date and searched by member
external id; a grant's detail page (its pack parent or children, the vouchers it handed
out by serial, whether it can be revoked) and revoke, as a confirmed action with a
required reason on the list and on the detail page. Revoking is
`services.grant_revoke`: its refusals ("a delivered card secret cannot be revoked") are
shown per grant as they are. No code, card secret, account or address appears on these
pages; a physical gift's address is on its fulfilment page only (admin_fulfilment)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from riskcontrol.console.confirm import confirmed_action, posted_reason
from riskcontrol.console.readonly import ReadOnlyAdmin
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError
from vouchers.models import Voucher

from .admin_fulfilment import GrantFulfilmentViews
from .models import Grant, TierBenefit
from .services import grant_revoke, revoke_refusal

DETAIL_FIELDS = [
    "uid_code",
    "member_column",
    "benefit",
    "substituted_from",
    "parent",
    "via",
    "occasion_text",
    "channel",
    "status",
    "quantity",
    "points_spent",
    "cost",
    "valid_until",
    "fulfilment",
    "tracking_number",
    "failure",
    "failure_detail",
    "created_at",
    "fulfilled_at",
    "shipped_at",
    "delivered_at",
    "revoked_at",
    "revoke_reason",
    "actor_label",
    "partner_client",
]


# A tier grant's occasion, named as the matrix names the mode it comes from.
OCCASIONS = {
    "claim": TierBenefit.Mode.CLAIMABLE.label,
    "on_upgrade": TierBenefit.Mode.ON_UPGRADE.label,
    "each_period": TierBenefit.Mode.EACH_PERIOD.label,
}


def grant_label(grant: Grant) -> str:
    """A grant as a message names it: "#12 COFFEE → M1"."""
    return f"#{grant.pk} {grant.benefit.code} → {grant.member.external_id}"


class GrantChangeList(ChangeList):
    """The children count of the page's pack grants in one GROUP BY."""

    def get_results(self, request):
        super().get_results(request)
        ids = [grant.pk for grant in self.result_list]
        counts = dict(
            Grant.objects.filter(parent_id__in=ids)
            .values_list("parent_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for grant in self.result_list:
            grant.children_count = counts.get(grant.pk, 0)


class GrantAdmin(GrantFulfilmentViews, ReadOnlyAdmin):
    """Grants are written by the grant services only (revoke, fulfilment)."""

    list_display = [
        "id",
        "created_at",
        "member_column",
        "benefit_column",
        "via",
        "status",
        "fulfilment",
        "pack_column",
        "channel",
        "actor_column",
    ]
    list_filter = ["status", "via", "fulfilment", "benefit", "created_at"]
    list_select_related = ["member", "benefit", "substituted_from"]
    search_fields = ["=member__external_id"]
    search_help_text = _("Exact member external id.")
    list_per_page = 50
    show_full_result_count = False
    actions = ["revoke"]
    fields = DETAIL_FIELDS
    readonly_fields = DETAIL_FIELDS
    change_form_template = "admin/entitlements/grant/change_form.html"
    change_list_template = "admin/entitlements/grant/change_list.html"

    def get_changelist(self, request, **kwargs):
        return GrantChangeList

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("entitlements.change_grant")

    # --- columns ---------------------------------------------------------------------
    @admin.display(description=_("member"), ordering="member__external_id")
    def member_column(self, grant: Grant) -> str:
        return grant.member.external_id

    @admin.display(description=_("benefit"))
    def benefit_column(self, grant: Grant) -> str:
        if grant.substituted_from_id:
            return format_html(
                "{}<br><small>{}</small>",
                grant.benefit.name,
                gettext("instead of %(name)s") % {"name": grant.substituted_from.name},
            )
        return grant.benefit.name

    @admin.display(description=_("pack"))
    def pack_column(self, grant: Grant) -> str:
        if grant.parent_id:
            return format_html(
                '<a href="{}">{}</a>',
                reverse("admin:entitlements_grant_change", args=[grant.parent_id]),
                gettext("in pack #%(id)s") % {"id": grant.parent_id},
            )
        if getattr(grant, "children_count", 0):
            return gettext("%(count)d items") % {"count": grant.children_count}
        return "—"

    @admin.display(description=_("grant id"))
    def uid_code(self, grant: Grant) -> str:
        # An identifier, not prose (its hex groups can read like words: "acda").
        return format_html("<code>{}</code>", grant.uid)

    @admin.display(description=_("occasion"))
    def occasion_text(self, grant: Grant) -> str:
        return str(OCCASIONS.get(grant.occasion, grant.occasion)) or "—"

    @admin.display(description=_("actor"))
    def actor_column(self, grant: Grant) -> str:
        return grant.actor_display

    # --- revoke ------------------------------------------------------------------------
    revoke = confirmed_action(
        service=grant_revoke,
        permission="revoke",
        description=_("Revoke the selected grants"),
        each=lambda grant: {"grant": grant},
        label=grant_label,
        done=lambda grant, _result: gettext("%(grant)s: revoked.") % {"grant": grant_label(grant)},
        title=_("Revoke grants?"),
        message=_(
            "Each grant is undone: its coupons are voided, its points come back, its "
            "budget, units and quota are given back, and a pack's items are revoked with "
            "it. A grant that cannot be taken back (a delivered card secret, a redeemed "
            "coupon, a shipped gift) is left as it is and named below."
        ),
        button=_("Yes, revoke"),
    )

    def get_urls(self):
        return [
            path(
                "<int:pk>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="entitlements_grant_revoke",
            ),
            *self.fulfilment_urls(),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, pk: int):
        """One grant's revoke, from its detail page: asks why, then revokes."""
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        grant = get_object_or_404(Grant.objects.select_related("benefit", "member"), pk=pk)
        detail_url = reverse("admin:entitlements_grant_change", args=[grant.pk])
        refusal = revoke_refusal(grant)
        reason_error = ""
        if request.method == "POST" and not refusal:
            reason = posted_reason(request)
            if reason:
                try:
                    grant_revoke(
                        grant=grant, reason=reason, actor=Actor.for_user(request.user, request)
                    )
                except DomainError as error:
                    self.message_user(
                        request, f"{grant_label(grant)}: {error.detail}", messages.WARNING
                    )
                else:
                    self.message_user(
                        request,
                        gettext("%(grant)s: revoked.") % {"grant": grant_label(grant)},
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(detail_url)
            reason_error = (
                gettext("The reason must not contain control characters.")
                if reason is None
                else gettext("Please say why.")
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Revoke grant %(grant)s?") % {"grant": grant_label(grant)},
            "subtitle": None,
            "original": grant,
            "refusal": refusal,
            "reason_error": reason_error,
            "detail_url": detail_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/entitlements/grant/revoke.html", context)

    # --- the detail page -----------------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, object_id)
        extra = {}
        if grant is not None:
            voucher_ids = grant.grant_vouchers.values_list("voucher_id", flat=True)
            children = list(
                grant.children.select_related("benefit", "substituted_from").order_by("id")
            )
            extra = {
                "children": children,
                "vouchers": Voucher.objects.filter(pk__in=list(voucher_ids))
                .select_related("batch")
                .order_by("id"),
                "revoke_refusal": revoke_refusal(grant),
                "can_revoke": self.has_revoke_permission(request),
                "revoke_url": reverse("admin:entitlements_grant_revoke", args=[grant.pk]),
                "fulfilment_url": reverse("admin:entitlements_grant_fulfilment", args=[grant.pk])
                if grant.fulfilment
                else "",
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def changelist_view(self, request, extra_context=None):
        extra = {"queue_url": reverse("admin:entitlements_grant_fulfilment_queue")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})
