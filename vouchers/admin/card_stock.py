"""The card-stock screens: the upload view on a batch (sealed as it streams in), and the
import console (report, live progress, confirm, abandon, rejected rows as CSV, void a
leaked file). Reading, checking and writing card stock lives in vouchers.cardstock."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from riskcontrol.console.confirm import confirmed_action
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError

from ..cardstock import (
    card_stock_job_abandon,
    card_stock_job_confirm,
    card_stock_job_start,
    card_stock_progress,
    card_stock_refusal,
    kind_label,
    report_csv,
)
from ..cardstock.uploads import EncryptingUploadHandler
from ..dates import date_rule
from ..models import CardStockImport, VoucherBatch
from ..services import card_stock_import_void
from .forms import CardStockUploadForm
from .reports import report_message


class CardStockUploadViews:
    """The batch page's card-stock upload (mixed into VoucherBatchAdmin, which routes
    `<pk>/import/` to `import_view`)."""

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
            "by_kind": [
                (kind, kind_label(kind), count)
                for kind, count in sorted((report.get("by_kind") or {}).items())
            ],
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
        response.write(report_csv((job.report or {}).get("issues", [])))
        return response

    void_vouchers = confirmed_action(
        service=card_stock_import_void,
        permission="void",
        description=_("Void every voucher from the selected files"),
        each=lambda import_job: {"import_job": import_job},
        label=lambda import_job: import_job.file_name,
        done=lambda import_job, report: (
            f"{import_job.file_name}: {report_message(report, _('voided'))}"
        ),
        title=_("Void every voucher from these files?"),
        message=_(
            "Use this when a file of card stock has leaked. Redeemed vouchers stay "
            "redeemed; all others can never be used again."
        ),
        button=_("Yes, void them"),
    )
