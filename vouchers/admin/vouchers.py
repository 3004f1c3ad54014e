"""The voucher console: vouchers without their codes (find one by code through a POST
form and the blind index, reveal one with a recorded reason), their event history, the
CSV/XLSX export of the list, and the bulk freeze / unfreeze / void actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from riskcontrol.console.confirm import confirmed_action
from riskcontrol.console.exports import LabelledExportForm
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError

from .. import selectors
from ..models import Voucher, VoucherEvent
from ..resources import VoucherExportResource
from ..services import (
    TransitionReport,
    voucher_reveal,
    vouchers_freeze,
    vouchers_unfreeze,
    vouchers_void,
)
from .forms import FindByCodeForm, RevealForm
from .reports import report_message


def _said_for_selection(done: str):
    """`done` for a bulk voucher action: a warning when some vouchers were left as they were."""

    def say(_queryset, report: TransitionReport):
        level = messages.SUCCESS if not report.skipped else messages.WARNING
        return report_message(report, done), level

    return say


def _voucher_action(*, service, done: str, **options):
    """One service call for the whole selection, with a reason."""
    return confirmed_action(
        service=service,
        selection=lambda queryset: {
            "vouchers": Voucher.objects.filter(pk__in=queryset.values("pk"))
        },
        done=_said_for_selection(done),
        **options,
    )


class VoucherEventInline(admin.TabularInline):
    model = VoucherEvent
    fields = [
        "created_at",
        "action",
        "from_status",
        "to_status",
        "actor_label",
        "channel",
        "context",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Voucher)
class VoucherAdmin(ExportMixin, admin.ModelAdmin):
    """Vouchers, never their codes. A code is looked up through a POST form and the blind
    index; it is shown only by the reveal screen, which records who, when and why."""

    list_display = [
        "serial",
        "batch",
        "status",
        "member",
        "claimed_at",
        "redeemed_at",
        "expires_at",
    ]
    list_filter = [
        "status",
        "batch__kind",
        # Not RelatedOnlyFieldListFilter: that scans every voucher for distinct batches.
        "batch",
        "claimed_at",
        "expires_at",
    ]
    search_fields = ["=serial", "=supplier_serial"]
    search_help_text = _(
        "Exact serial or supplier serial. To find a voucher by its code, use the form above."
    )
    list_select_related = ["batch", "member"]
    inlines = [VoucherEventInline]
    show_full_result_count = False
    exclude = ["trace"]
    actions = ["freeze_selected", "unfreeze_selected", "void_selected"]
    change_list_template = "admin/vouchers/voucher/change_list.html"
    resource_classes = [VoucherExportResource]
    export_form_class = LabelledExportForm
    export_formats = [CSV, XLSX]
    change_form_template = "admin/vouchers/voucher/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Voucher._meta.fields if field.name not in ("id",)]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_freeze_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.freeze_voucher")

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.void_voucher")

    def has_reveal_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.reveal_secret")

    def get_urls(self):
        return [
            path(
                "find-by-code/",
                self.admin_site.admin_view(self.find_by_code_view),
                name="vouchers_voucher_find_by_code",
            ),
            path(
                "<int:pk>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="vouchers_voucher_reveal",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"find_form": FindByCodeForm()}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_reveal": self.has_reveal_permission(request)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @method_decorator(sensitive_post_parameters("code"))
    def find_by_code_view(self, request: HttpRequest):
        """POST only, so a pasted code never lands in a URL, a log or the history."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:vouchers_voucher_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        form = FindByCodeForm(request.POST)
        voucher = (
            selectors.voucher_find_by_code(form.data.get("code", "")) if form.is_valid() else None
        )
        if voucher is None:
            self.message_user(request, _("No voucher has this code."), messages.WARNING)
            return HttpResponseRedirect(changelist)
        return HttpResponseRedirect(reverse("admin:vouchers_voucher_change", args=[voucher.pk]))

    def reveal_view(self, request: HttpRequest, pk: int):
        if not self.has_reveal_permission(request):
            raise PermissionDenied
        voucher = get_object_or_404(Voucher.objects.select_related("batch"), pk=pk)
        form = RevealForm(request.POST or None)
        code = None
        if request.method == "POST" and form.is_valid():
            try:
                code = voucher_reveal(
                    voucher=voucher,
                    actor=Actor.for_user(request.user, request),
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error(None, str(error.detail))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reveal code"),
            "opts": self.model._meta,
            "original": voucher,
            "form": form,
            "code": code,
        }
        response = TemplateResponse(request, "admin/vouchers/voucher/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response

    freeze_selected = _voucher_action(
        service=vouchers_freeze,
        done=_("frozen"),
        permission="freeze",
        description=_("Freeze the selected vouchers"),
        title=_("Freeze vouchers?"),
        message=_(
            "Frozen vouchers cannot be claimed, revealed by partners or redeemed until "
            "they are unfrozen."
        ),
        button=_("Yes, freeze them"),
    )
    unfreeze_selected = _voucher_action(
        service=vouchers_unfreeze,
        done=_("unfrozen"),
        permission="freeze",
        description=_("Unfreeze the selected vouchers"),
        title=_("Unfreeze vouchers?"),
        message=_("Each voucher returns to the status it had before it was frozen."),
        button=_("Yes, unfreeze them"),
    )
    void_selected = _voucher_action(
        service=vouchers_void,
        done=_("voided"),
        permission="void",
        description=_("Void the selected vouchers"),
        title=_("Void vouchers?"),
        message=_("Voided vouchers can never be used again. Redeemed vouchers stay redeemed."),
        button=_("Yes, void them"),
    )
