from __future__ import annotations

import io
import itertools

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from riskcontrol.console.confirm import confirmation_page, confirmed_reason, posted_reason
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed
from riskcontrol.core.spreadsheets import csv_writer

from . import selectors
from .batch_edits import BATCH_EDITABLE_FIELDS, voucher_batch_update, voucher_batch_update_validate
from .cardstock import (
    card_stock_job_abandon,
    card_stock_job_confirm,
    card_stock_job_start,
    card_stock_progress,
    card_stock_refusal,
)
from .dates import DayOrMomentField, date_rule
from .models import BatchEvent, CardStockImport, Voucher, VoucherBatch, VoucherEvent
from .resources import VoucherExportResource
from .services import (
    BATCH_RULE_FIELDS,
    TransitionReport,
    card_stock_import_void,
    voucher_batch_activate,
    voucher_batch_close,
    voucher_batch_create,
    voucher_batch_freeze,
    voucher_batch_pause,
    voucher_batch_resume,
    voucher_batch_unfreeze,
    voucher_batch_validate,
    voucher_batch_void,
    voucher_reveal,
    vouchers_export_codes,
    vouchers_freeze,
    vouchers_unfreeze,
    vouchers_void,
)
from .upload_store import EncryptingUploadHandler

VALUE_FIELDS = [
    "kind",
    "value_type",
    "face_value",
    "percent_off",
    "max_discount",
    "min_order_amount",
    "currency",
    "code_format",
]
CREATE_VALUE_FIELDS = [field for field in VALUE_FIELDS if field != "code_format"]


def valid_from_field() -> DayOrMomentField:
    return DayOrMomentField(
        day_end=False,
        label=_("valid from"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_("Leave the time empty for the start of that day."),
    )


def valid_until_field() -> DayOrMomentField:
    return DayOrMomentField(
        day_end=True,
        label=_("valid until"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_(
            "Leave the time empty for the end of that day (23:59:59 in the platform time zone)."
        ),
    )


class BatchCreateForm(forms.ModelForm):
    quantity = forms.IntegerField(
        label=_("quantity"),
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text=_(
            "How many codes to generate (up to 1,000,000). Leave empty for an empty batch "
            "that card stock is imported into."
        ),
    )
    activate = forms.BooleanField(
        label=_("open for claims when ready"), required=False, initial=True
    )
    valid_from = valid_from_field()
    valid_until = valid_until_field()

    class Meta:
        model = VoucherBatch
        # No code format to choose: it follows from the kind (card secrets are kept
        # exactly as delivered, generated codes are read the Crockford way), so no
        # combination offered here can change a code.
        fields = [
            "code",
            "name",
            *CREATE_VALUE_FIELDS,
            "valid_from",
            "valid_until",
            "valid_days",
            "per_member_limit",
            "allow_unclaimed_redemption",
            "cost_per_voucher",
            "region",
        ]

    def _post_clean(self):
        # No model instance is built here: `voucher_batch_create` makes the batch, and
        # `clean()` asks the same service's rules so messages land next to the fields.
        pass

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        arguments = self.service_arguments()
        try:
            voucher_batch_validate(**{field: arguments[field] for field in BATCH_RULE_FIELDS})
        except ValidationFailed as error:
            for field, field_messages in error.errors.items():
                for message in field_messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "code": data["code"],
            "name": data["name"],
            "kind": data["kind"],
            "value_type": data["value_type"],
            "face_value": data["face_value"],
            "percent_off": data["percent_off"],
            "max_discount": data["max_discount"],
            "min_order_amount": data["min_order_amount"],
            "currency": data["currency"],
            "code_format": None,
            "valid_from": data["valid_from"],
            "valid_until": data["valid_until"],
            "valid_days": data["valid_days"],
            "per_member_limit": data["per_member_limit"],
            "allow_unclaimed_redemption": data["allow_unclaimed_redemption"],
            "cost_per_voucher": data["cost_per_voucher"],
            "region": data["region"],
            "quantity": data["quantity"],
            "activate": data["activate"],
        }


class BatchChangeForm(forms.ModelForm):
    """The batch change form: only the settings `voucher_batch_update` may change, checked
    by that service's rules so messages land next to the fields. A date without a time
    means what it means at creation (vouchers.dates)."""

    valid_from = valid_from_field()
    valid_until = valid_until_field()

    class Meta:
        model = VoucherBatch
        fields = list(BATCH_EDITABLE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            voucher_batch_update_validate(**self.service_arguments())
        except ValidationFailed as error:
            for field, field_messages in error.errors.items():
                for message in field_messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned

    def service_arguments(self) -> dict:
        return {field: self.cleaned_data[field] for field in BATCH_EDITABLE_FIELDS}


class BatchChangeList(ChangeList):
    """Stock columns for the whole page in one GROUP BY query (no per-row counting)."""

    def get_results(self, request):
        super().get_results(request)
        stock = selectors.batch_stock_many(batch.pk for batch in self.result_list)
        for batch in self.result_list:
            batch.stock = stock[batch.pk]


@admin.register(VoucherBatch)
class VoucherBatchAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "value_type",
        "face_value",
        "status",
        "generation_progress",
        "stock_available",
        "stock_claimed",
        "stock_redeemed",
        "stock_total",
        "created_at",
    ]
    list_filter = ["status", "kind", "value_type", "source", "generation", "created_at"]
    search_fields = ["code", "name"]
    actions = [
        "export_codes",
        "activate",
        "pause",
        "resume",
        "freeze",
        "unfreeze",
        "close",
        "void",
    ]
    readonly_fields = [
        *VALUE_FIELDS,
        "code",
        "source",
        "quantity",
        "generation",
        "generated_count",
        "status",
        "created_by",
        "created_at",
        "updated_at",
    ]
    change_form_template = "admin/vouchers/voucherbatch/change_form.html"

    def get_changelist(self, request, **kwargs):
        return BatchChangeList

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BatchCreateForm if obj is None else BatchChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["code", "name", "kind", "quantity", "activate"]}),
                (
                    _("Value"),
                    {"fields": CREATE_VALUE_FIELDS[1:]},
                ),
                (
                    _("Validity and limits"),
                    {
                        "fields": [
                            "valid_from",
                            "valid_until",
                            "valid_days",
                            "per_member_limit",
                            "allow_unclaimed_redemption",
                        ]
                    },
                ),
                (_("Cost and region"), {"fields": ["cost_per_voucher", "region"]}),
            ]
        return [
            (None, {"fields": ["code", "name", "status", "source"]}),
            (_("Value"), {"fields": VALUE_FIELDS}),
            (
                _("Validity and limits"),
                {
                    "fields": [
                        "valid_from",
                        "valid_until",
                        "valid_days",
                        "per_member_limit",
                        "allow_unclaimed_redemption",
                    ]
                },
            ),
            (_("Generation"), {"fields": ["quantity", "generation", "generated_count"]}),
            (
                _("Cost and region"),
                {
                    "fields": [
                        "cost_per_voucher",
                        "region",
                        "created_by",
                        "created_at",
                        "updated_at",
                    ]
                },
            ),
        ]

    # --- list columns ---------------------------------------------------------------------
    @admin.display(description=_("generated"))
    def generation_progress(self, batch: VoucherBatch) -> str:
        if batch.source != VoucherBatch.Source.GENERATED:
            return "—"
        return f"{batch.generated_count:,} / {batch.quantity:,}"

    @admin.display(description=_("available"))
    def stock_available(self, batch: VoucherBatch) -> int:
        return batch.stock["available"]

    @admin.display(description=_("claimed"))
    def stock_claimed(self, batch: VoucherBatch) -> int:
        return batch.stock["claimed"]

    @admin.display(description=_("redeemed"))
    def stock_redeemed(self, batch: VoucherBatch) -> int:
        return batch.stock["redeemed"]

    @admin.display(description=_("total"))
    def stock_total(self, batch: VoucherBatch) -> int:
        return batch.stock["total"]

    # --- create and change through the services ------------------------------------------
    def save_model(self, request, obj, form, change) -> None:
        actor = Actor.for_user(request.user, request)
        if change:
            voucher_batch_update(batch=obj, **form.service_arguments(), actor=actor)
            return
        batch = voucher_batch_create(**form.service_arguments(), actor=actor)
        obj.pk = batch.pk

    # --- live progress and stock -------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="vouchers_voucherbatch_progress",
            ),
            path(
                "<int:pk>/import/",
                self.admin_site.admin_view(self.import_view),
                name="vouchers_voucherbatch_import",
            ),
            *super().get_urls(),
        ]

    @method_decorator(csrf_exempt)
    def import_view(self, request: HttpRequest, pk: int):
        """Upload card stock. The file is sealed as it streams in (no plaintext temporary
        file): the upload handler is set before anything reads the body, and the CSRF
        check runs after it (Django's documented pattern for custom upload handlers).
        Permission is checked before the body is read, and whatever the request ends in
        (refused CSRF token, invalid form, an error), uploads that no import took over
        are removed before the response goes out."""
        if not request.user.has_perm("vouchers.add_cardstockimport"):
            raise PermissionDenied
        handler = EncryptingUploadHandler(request)
        request.upload_handlers = [handler]
        try:
            return csrf_protect(self._import_view)(request, pk)
        finally:
            handler.remove_unclaimed(
                lambda upload_id: CardStockImport.objects.filter(upload_id=upload_id).exists()
            )

    def _import_view(self, request: HttpRequest, pk: int):
        batch = get_object_or_404(VoucherBatch, pk=pk)
        posted = request.method == "POST"
        data, files = (request.POST, request.FILES) if posted else (None, None)
        # Read after the body was parsed (above): the upload handler saw the size.
        too_large = any(getattr(h, "too_large", False) for h in request.upload_handlers)
        form = CardStockUploadForm(data, files, too_large=too_large)
        if request.method == "POST" and form.is_valid():
            uploaded = form.cleaned_data["file"]
            job = card_stock_job_start(
                batch=batch,
                upload_id=uploaded.upload_id,
                file_name=uploaded.name,
                actor=Actor.for_user(request.user, request),
            )
            return HttpResponseRedirect(
                reverse("admin:vouchers_cardstockimport_report", args=[job.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import card stock"),
            "opts": self.model._meta,
            "original": batch,
            "form": form,
            "importable": not card_stock_refusal(batch),
            "refusal": card_stock_refusal(batch),
        }
        return TemplateResponse(request, "admin/vouchers/cardstockimport/upload.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(VoucherBatch, pk=pk)
        return JsonResponse(
            {
                "generation": batch.generation,
                "generation_label": str(batch.get_generation_display()),
                "generated": batch.generated_count,
                "quantity": batch.quantity,
                "status": batch.status,
                "stock": selectors.batch_stock(batch_id=batch.pk, max_age=0),
            }
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        extra = {}
        if batch is not None:
            extra = {
                "import_url": reverse("admin:vouchers_voucherbatch_import", args=[batch.pk])
                if not card_stock_refusal(batch)
                and request.user.has_perm("vouchers.add_cardstockimport")
                else "",
                "stock": selectors.batch_stock(batch_id=batch.pk, max_age=0),
                "progress_url": reverse("admin:vouchers_voucherbatch_progress", args=[batch.pk]),
                "status_labels": dict(Voucher.Status.choices),
                "batch_events": BatchEvent.objects.filter(batch=batch).order_by(
                    "-created_at", "-id"
                )[:20],
                "recent_events": VoucherEvent.objects.filter(batch=batch)
                .select_related("voucher")
                .order_by("-created_at", "-id")[:20],
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # --- actions ----------------------------------------------------------------------------
    def has_change_status_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.change_batch_status")

    def _each_batch(self, request, queryset, service, done) -> None:
        actor = Actor.for_user(request.user, request)
        reason = posted_reason(request)
        if reason is None:
            self.message_user(
                request, _("The reason must not contain control characters."), messages.ERROR
            )
            return
        for batch in queryset:
            try:
                result = service(batch=batch, actor=actor, reason=reason)
            except DomainError as error:
                self.message_user(request, f"{batch.code}: {error.detail}", messages.WARNING)
                continue
            if isinstance(result, TransitionReport):
                self.message_user(
                    request, f"{batch.code}: {_report_message(result, done)}", messages.SUCCESS
                )
            else:
                self.message_user(request, f"{batch.code}: {done}", messages.SUCCESS)

    def _confirmed_each_batch(
        self, request, queryset, *, action, title, message, button, service, done
    ):
        if confirmed_reason(request) is None:
            return confirmation_page(
                self,
                request,
                queryset,
                action=action,
                title=title,
                message=message,
                button=button,
                ask_reason=True,
            )
        self._each_batch(request, queryset, service, done)
        return None

    def has_export_secrets_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.export_secrets")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # batches are closed or voided, never deleted: their history stays

    @admin.action(
        description=_("Export codes of the selected batches (CSV, recorded)"),
        permissions=["export_secrets"],
    )
    def export_codes(self, request, queryset):
        reason = confirmed_reason(request)
        if reason is None:
            return confirmation_page(
                self,
                request,
                queryset,
                action="export_codes",
                title=_("Export codes in clear?"),
                message=_(
                    "The file holds every code of these batches in clear. Each voucher is "
                    "recorded as revealed, with your name and the reason. Keep the file safe."
                ),
                button=_("Yes, export the codes"),
                ask_reason=True,
            )
        rows = vouchers_export_codes(
            vouchers=Voucher.objects.filter(batch__in=queryset),
            actor=Actor.for_user(request.user, request),
            reason=reason,
        )
        header = next(rows)  # records the events before the download starts

        def lines():
            buffer = io.StringIO()
            writer = csv_writer(buffer)
            buffer.write("\ufeff")
            for row in itertools.chain([header], rows):
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="codes-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(
        description=_("Pause claims on the selected batches"), permissions=["change_status"]
    )
    def pause(self, request, queryset):
        self._each_batch(request, queryset, voucher_batch_pause, _("paused"))

    @admin.action(
        description=_("Resume claims on the selected batches"), permissions=["change_status"]
    )
    def resume(self, request, queryset):
        self._each_batch(request, queryset, voucher_batch_resume, _("resumed"))

    @admin.action(
        description=_("Freeze the selected batches (stop a leak)"), permissions=["change_status"]
    )
    def freeze(self, request, queryset):
        return self._confirmed_each_batch(
            request,
            queryset,
            action="freeze",
            title=_("Freeze batches?"),
            message=_(
                "The batches take no claims and every available or claimed voucher in them is "
                "frozen: it cannot be claimed, revealed by partners or redeemed. Unfreezing "
                "returns each voucher to the status it had."
            ),
            button=_("Yes, freeze"),
            service=voucher_batch_freeze,
            done=_("frozen"),
        )

    @admin.action(description=_("Unfreeze the selected batches"), permissions=["change_status"])
    def unfreeze(self, request, queryset):
        return self._confirmed_each_batch(
            request,
            queryset,
            action="unfreeze",
            title=_("Unfreeze batches?"),
            message=_("Every frozen voucher returns to the status it had before."),
            button=_("Yes, unfreeze"),
            service=voucher_batch_unfreeze,
            done=_("unfrozen"),
        )

    @admin.action(
        description=_("Close the selected batches for good"), permissions=["change_status"]
    )
    def close(self, request, queryset):
        return self._confirmed_each_batch(
            request,
            queryset,
            action="close",
            title=_("Close batches?"),
            message=_(
                "Closed batches take no more claims, ever. Vouchers already claimed stay "
                "usable until they expire."
            ),
            button=_("Yes, close"),
            service=voucher_batch_close,
            done=_("closed"),
        )

    @admin.action(
        description=_("Void the selected batches and their vouchers"), permissions=["change_status"]
    )
    def void(self, request, queryset):
        return self._confirmed_each_batch(
            request,
            queryset,
            action="void",
            title=_("Void batches?"),
            message=_(
                "The batches are closed and every voucher that is not redeemed is voided: it "
                "can never be used again. This cannot be undone."
            ),
            button=_("Yes, void everything"),
            service=voucher_batch_void,
            done=_("voided"),
        )

    @admin.action(description=_("Open the selected batches for claims"), permissions=["change"])
    def activate(self, request, queryset):
        actor = Actor.for_user(request.user, request)
        for batch in queryset:
            try:
                voucher_batch_activate(batch=batch, actor=actor)
            except DomainError as error:
                self.message_user(request, f"{batch.code}: {error.detail}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    _("%(code)s is open for claims.") % {"code": batch.code},
                    messages.SUCCESS,
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


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the code needed?"),
        min_length=5,
        max_length=255,
        widget=forms.TextInput(attrs={"size": 60, "autocomplete": "off"}),
        help_text=_("Recorded with your name and the time."),
    )


class FindByCodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=128, strip=True)


def _report_message(report: TransitionReport, done: str) -> str:
    parts = [_("%(count)d %(done)s.") % {"count": report.changed, "done": done}]
    if report.skipped:
        skipped = ", ".join(
            f"{count} {Voucher.Status(status).label}"
            for status, count in sorted(report.skipped.items())
        )
        parts.append(_("Left unchanged: %(skipped)s.") % {"skipped": skipped})
    return " ".join(str(part) for part in parts)


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

    def _bulk(self, request, queryset, *, action, title, message, button, service, done):
        reason = confirmed_reason(request)
        if reason is None:
            return confirmation_page(
                self,
                request,
                queryset,
                action=action,
                title=title,
                message=message,
                button=button,
                ask_reason=True,
            )
        report = service(
            vouchers=Voucher.objects.filter(pk__in=queryset.values("pk")),
            actor=Actor.for_user(request.user, request),
            reason=reason,
        )
        level = messages.SUCCESS if not report.skipped else messages.WARNING
        self.message_user(request, _report_message(report, done), level)
        return None

    @admin.action(description=_("Freeze the selected vouchers"), permissions=["freeze"])
    def freeze_selected(self, request, queryset):
        return self._bulk(
            request,
            queryset,
            action="freeze_selected",
            title=_("Freeze vouchers?"),
            message=_(
                "Frozen vouchers cannot be claimed, revealed by partners or redeemed until "
                "they are unfrozen."
            ),
            button=_("Yes, freeze them"),
            service=vouchers_freeze,
            done=_("frozen"),
        )

    @admin.action(description=_("Unfreeze the selected vouchers"), permissions=["freeze"])
    def unfreeze_selected(self, request, queryset):
        return self._bulk(
            request,
            queryset,
            action="unfreeze_selected",
            title=_("Unfreeze vouchers?"),
            message=_("Each voucher returns to the status it had before it was frozen."),
            button=_("Yes, unfreeze them"),
            service=vouchers_unfreeze,
            done=_("unfrozen"),
        )

    @admin.action(description=_("Void the selected vouchers"), permissions=["void"])
    def void_selected(self, request, queryset):
        return self._bulk(
            request,
            queryset,
            action="void_selected",
            title=_("Void vouchers?"),
            message=_("Voided vouchers can never be used again. Redeemed vouchers stay redeemed."),
            button=_("Yes, void them"),
            service=vouchers_void,
            done=_("voided"),
        )


class CardStockUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        required=False,  # said in clean_file, after the size limit
        help_text=_(
            "CSV (UTF-8 or GBK) or XLSX. First row: column names — code (卡密), and "
            "optionally serial (卡号), expires_at (有效期), face_value (面值), cost (成本), "
            "region (地区)."
        ),
    )

    def __init__(self, *args, too_large: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large

    def clean_file(self):
        if self.too_large:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB; split it into smaller files.")
                % {"mb": settings.CARD_STOCK_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        uploaded = self.cleaned_data.get("file")
        if not uploaded:
            raise forms.ValidationError(self.fields["file"].error_messages["required"])
        return uploaded


@admin.register(CardStockImport)
class CardStockImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "batch",
        "status",
        "rows_total",
        "rows_imported",
        "rows_rejected",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["file_name", "batch__code"]
    list_select_related = ["batch", "created_by"]
    actions = ["void_vouchers"]
    exclude = ["report"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in CardStockImport._meta.fields if field.name != "report"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.void_voucher")

    def get_urls(self):
        def view(function, name):
            return path(
                f"<int:pk>/{name}/",
                self.admin_site.admin_view(function),
                name=f"vouchers_cardstockimport_{name.replace('.', '_')}",
            )

        return [
            view(self.report_view, "report"),
            view(self.progress_view, "progress"),
            view(self.confirm_view, "confirm"),
            view(self.abandon_view, "abandon"),
            view(self.report_csv_view, "report.csv"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(
            reverse("admin:vouchers_cardstockimport_report", args=[object_id])
        )

    def report_view(self, request: HttpRequest, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(CardStockImport.objects.select_related("batch"), pk=pk)
        report = job.report or {}
        context = {
            **self.admin_site.each_context(request),
            "title": _("Card-stock import: %(file)s") % {"file": job.file_name},
            "opts": self.model._meta,
            "job": job,
            "report": report,
            "by_kind": sorted((report.get("by_kind") or {}).items()),
            "date_rule": date_rule(),
            "issues": (report.get("issues") or [])[:200],
            "more_issues": max(0, len(report.get("issues") or []) - 200),
            "busy": job.status
            in (CardStockImport.Status.VALIDATING, CardStockImport.Status.IMPORTING),
            "can_confirm": job.status == CardStockImport.Status.VALIDATED
            and request.user.has_perm("vouchers.add_cardstockimport")
            and report.get("accepted", 0) > 0,
            "progress": card_stock_progress(job),
            "events": job.events.order_by("created_at", "id"),
        }
        return TemplateResponse(request, "admin/vouchers/cardstockimport/report.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(card_stock_progress(get_object_or_404(CardStockImport, pk=pk)))

    def confirm_view(self, request: HttpRequest, pk: int):
        if request.method != "POST" or not request.user.has_perm("vouchers.add_cardstockimport"):
            raise PermissionDenied
        job = get_object_or_404(CardStockImport, pk=pk)
        skip = request.POST.get("skip_rejected") == "on"
        if job.rows_rejected and not skip:
            self.message_user(
                request,
                _(
                    "Some rows were rejected. Tick “skip rejected rows” to import the others, "
                    "or fix the file."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:vouchers_cardstockimport_report", args=[pk]))
        try:
            job = card_stock_job_confirm(
                job=job, skip_rejected=skip, actor=Actor.for_user(request.user, request)
            )
        except DomainError as error:
            self.message_user(request, str(error.detail), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:vouchers_cardstockimport_report", args=[pk]))
        if job.status == CardStockImport.Status.IMPORTED:
            self.message_user(
                request,
                _("%(count)s vouchers imported into %(batch)s.")
                % {"count": f"{job.rows_imported:,}", "batch": job.batch.code},
                messages.SUCCESS,
            )
        elif job.status == CardStockImport.Status.FAILED:
            self.message_user(
                request, job.error or _("The import failed; nothing was written."), messages.ERROR
            )
        return HttpResponseRedirect(reverse("admin:vouchers_cardstockimport_report", args=[pk]))

    def abandon_view(self, request: HttpRequest, pk: int):
        if request.method != "POST" or not request.user.has_perm("vouchers.add_cardstockimport"):
            raise PermissionDenied
        job = get_object_or_404(CardStockImport, pk=pk)
        card_stock_job_abandon(job=job, actor=Actor.for_user(request.user, request))
        self.message_user(
            request, _("Import abandoned; the uploaded file was deleted."), messages.INFO
        )
        return HttpResponseRedirect(
            reverse("admin:vouchers_voucherbatch_change", args=[job.batch_id])
        )

    def report_csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(CardStockImport, pk=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
        response.write("\ufeff")  # so spreadsheet programs read it as UTF-8
        writer = csv_writer(response)
        writer.writerow(["row", "kind", "message", "code (masked)"])
        for issue in (job.report or {}).get("issues", []):
            writer.writerow([issue["row"], issue["kind"], issue["message"], issue["masked_code"]])
        return response

    @admin.action(description=_("Void every voucher from the selected files"), permissions=["void"])
    def void_vouchers(self, request, queryset):
        reason = confirmed_reason(request)
        if reason is None:
            return confirmation_page(
                self,
                request,
                queryset,
                action="void_vouchers",
                title=_("Void every voucher from these files?"),
                message=_(
                    "Use this when a file of card stock has leaked. Redeemed vouchers stay "
                    "redeemed; all others can never be used again."
                ),
                button=_("Yes, void them"),
                ask_reason=True,
            )
        actor = Actor.for_user(request.user, request)
        for import_job in queryset:
            report = card_stock_import_void(import_job=import_job, actor=actor, reason=reason)
            self.message_user(
                request,
                f"{import_job.file_name}: {_report_message(report, _('voided'))}",
                messages.SUCCESS,
            )
        return None
