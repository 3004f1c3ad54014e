"""The voucher console: vouchers without their codes (one search box finds a voucher by
serial, supplier serial, member id or pasted code — it always posts, so a code never
reaches a URL or an access log; reveal one with a recorded reason), their event history
in readable rows, the CSV/XLSX export of the list, and the bulk freeze / unfreeze / void
actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from members.models import Member
from riskcontrol.console.confirm import confirmed_action
from riskcontrol.console.exports import LabelledExportForm
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError

from .. import selectors
from ..codes import is_normalised_generated_code
from ..models import Voucher, VoucherEvent
from ..resources import VoucherExportResource
from ..secrets import fold_code
from ..services import (
    TransitionReport,
    voucher_reveal,
    vouchers_freeze,
    vouchers_unfreeze,
    vouchers_void,
)
from .forms import FindByCodeForm, RevealForm
from .readable import readable_html, status_label
from .reports import report_message

# Everything a voucher page may show: never the sealed code, its blind index or key id.
VOUCHER_PAGE_FIELDS = [
    "batch",
    "serial",
    "supplier_serial",
    "status",
    "frozen_from",
    "member",
    "channel",
    "trace_rows",
    "claimed_at",
    "redeemed_at",
    "expires_at",
    "face_value",
    "cost",
    "region",
    "import_job",
    "sequence",
    "created_at",
]


def _serial_voucher_ids(term: str) -> list[int]:
    """The voucher whose serial is `term` (as typed or in upper case): the unique index."""
    return list(
        Voucher.objects.filter(serial__in={term, term.upper()}).values_list("pk", flat=True)
    )


def _supplier_voucher_ids(term: str) -> list[int]:
    """Vouchers whose supplier serial is `term`, at most two (one is enough to go to its
    page, two mean a list). No index serves this alone: asked last."""
    return list(Voucher.objects.filter(supplier_serial=term).values_list("pk", flat=True)[:2])


def _member_id(term: str) -> int | None:
    return Member.objects.filter(external_id=term).values_list("pk", flat=True).first()


def looks_like_code(term: str) -> bool:
    """Whether `term` is (or is shaped like) a voucher code — a generated code's shape
    once folded, or any voucher's code (blind index) — and not a serial, a member id or
    a supplier serial (a 16-digit card number is one, not a code)."""
    term = term.strip()
    if not term or not (
        is_normalised_generated_code(fold_code(term))
        or selectors.voucher_id_by_code(term) is not None
    ):
        return False
    return not (
        _serial_voucher_ids(term) or _member_id(term) is not None or _supplier_voucher_ids(term)
    )


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
        "from_status_label",
        "to_status_label",
        "actor_label",
        "channel",
        "context_rows",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("from"))
    def from_status_label(self, event: VoucherEvent) -> str:
        return status_label(event.from_status)

    @admin.display(description=_("to"))
    def to_status_label(self, event: VoucherEvent) -> str:
        return status_label(event.to_status)

    @admin.display(description=_("context"))
    def context_rows(self, event: VoucherEvent) -> str:
        return readable_html(event.context)


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
    search_fields = ["=serial", "=supplier_serial", "=member__external_id"]
    search_help_text = _(
        "Serial, supplier serial, member id or a pasted code. The search is sent privately: "
        "a code never appears in the address bar."
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

    def get_fields(self, request, obj=None):
        return VOUCHER_PAGE_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return VOUCHER_PAGE_FIELDS

    @admin.display(description=_("trace"))
    def trace_rows(self, voucher: Voucher) -> str:
        return readable_html(voucher.trace)

    def get_search_results(self, request, queryset, search_term):
        """Serial, member id or supplier serial, exactly, in that order (the first two by
        their indexes); never a code (codes are found through `search_view`, by POST)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        serial_ids = _serial_voucher_ids(term)
        if serial_ids:
            return queryset.filter(pk__in=serial_ids), False
        member_id = _member_id(term)
        if member_id is not None:
            return queryset.filter(member_id=member_id), False
        return queryset.filter(supplier_serial=term), False

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
                "search/",
                self.admin_site.admin_view(self.search_view),
                name="vouchers_voucher_search",
            ),
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
        term = request.GET.get(SEARCH_VAR, "")
        if request.method == "GET" and looks_like_code(term):
            # Typed into the address by hand: not searched, not echoed back.
            self.message_user(
                request,
                _(
                    "Codes are not searched from the address bar, where they would be "
                    "recorded. Paste the code into the search box: it is sent privately."
                ),
                messages.WARNING,
            )
            rest = {key: value for key, value in request.GET.items() if key != SEARCH_VAR}
            changelist = reverse("admin:vouchers_voucher_changelist")
            return HttpResponseRedirect(f"{changelist}?{urlencode(rest)}" if rest else changelist)
        return super().changelist_view(request, extra_context)

    @method_decorator(sensitive_post_parameters(SEARCH_VAR))
    def search_view(self, request: HttpRequest):
        """The list's search box, always by POST: a serial or a code goes to the voucher's
        page, a member id to the list of that member's vouchers, several vouchers with
        one supplier serial to the list; the redirect names the voucher by its id or
        serial, never by its code, so no URL (nor an access log) ever holds a code."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:vouchers_voucher_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        term = request.POST.get(SEARCH_VAR, "").strip()[:128]
        if not term:
            return HttpResponseRedirect(changelist)
        serial_ids = _serial_voucher_ids(term)
        voucher_id = serial_ids[0] if serial_ids else selectors.voucher_id_by_code(term)
        if voucher_id is not None:
            return HttpResponseRedirect(reverse("admin:vouchers_voucher_change", args=[voucher_id]))
        member_id = _member_id(term)
        supplier_ids = [] if member_id is not None else _supplier_voucher_ids(term)
        if len(supplier_ids) == 1:
            return HttpResponseRedirect(
                reverse("admin:vouchers_voucher_change", args=[supplier_ids[0]])
            )
        if supplier_ids or member_id is not None:
            # A member's vouchers, or several with this supplier serial: the list, searched
            # by that member id or supplier serial (neither is a secret).
            return HttpResponseRedirect(f"{changelist}?{urlencode({SEARCH_VAR: term})}")
        self.message_user(
            request,
            _("No voucher has this serial or code, and no member has this id."),
            messages.WARNING,
        )
        return HttpResponseRedirect(changelist)

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

    def export_action(self, request):
        """The list export: posted without a format, it is refused with a sentence (the
        form is shown again) rather than failing or picking a format."""
        if request.method == "POST" and not request.POST.get("format"):
            self.message_user(
                request,
                _("Choose a file format (CSV or Excel) for the export, then export again."),
                messages.ERROR,
            )
        return super().export_action(request)

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
