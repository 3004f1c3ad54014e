"""The batch console: list with stock columns, create and change through the batch
services, live progress, and the batch actions (each one a `confirmed_action`). Other
apps add inlines to the batch page through `batch_inlines` (from their AppConfig.ready),
never by changing `VoucherBatchAdmin`. The card-stock upload view lives in card_stock."""

from __future__ import annotations

import io
import itertools

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from riskcontrol.console.confirm import confirmed_action
from riskcontrol.core.actors import Actor
from riskcontrol.core.spreadsheets import csv_writer

from .. import selectors
from ..cardstock import card_stock_refusal
from ..models import BatchEvent, Voucher, VoucherBatch, VoucherEvent
from ..services import (
    TransitionReport,
    voucher_batch_activate,
    voucher_batch_close,
    voucher_batch_create,
    voucher_batch_freeze,
    voucher_batch_pause,
    voucher_batch_resume,
    voucher_batch_unfreeze,
    voucher_batch_update,
    voucher_batch_void,
    vouchers_export_codes,
)
from .card_stock import CardStockUploadViews
from .forms import CREATE_VALUE_FIELDS, VALUE_FIELDS, BatchChangeForm, BatchCreateForm
from .reports import report_message


class InlineRegistry:
    """Inlines other apps add to an admin page. An app registers its inline from its
    AppConfig.ready(); the ModelAdmin reads the registry in get_inlines()."""

    def __init__(self) -> None:
        self._inlines: list[type[admin.options.InlineModelAdmin]] = []

    def register(self, inline: type[admin.options.InlineModelAdmin]):
        if inline not in self._inlines:
            self._inlines.append(inline)
        return inline

    def __iter__(self):
        return iter(list(self._inlines))


batch_inlines = InlineRegistry()


def _said_per_batch(done: str):
    """`done` for a batch action: "<code>: <what happened>"."""

    def say(batch: VoucherBatch, result) -> str:
        if isinstance(result, TransitionReport):
            return f"{batch.code}: {report_message(result, done)}"
        return f"{batch.code}: {done}"

    return say


def _batch_action(*, service, done: str, description: str, **confirmation):
    """A status action on each selected batch, for holders of vouchers.change_batch_status."""
    return confirmed_action(
        service=service,
        permission="change_status",
        description=description,
        each=lambda batch: {"batch": batch},
        label=lambda batch: batch.code,
        done=_said_per_batch(done),
        **confirmation,
    )


def _codes_download(queryset, rows) -> StreamingHttpResponse:
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


class BatchChangeList(ChangeList):
    """Stock columns for the whole page in one GROUP BY query (no per-row counting)."""

    def get_results(self, request):
        super().get_results(request)
        stock = selectors.batch_stock_many(batch.pk for batch in self.result_list)
        for batch in self.result_list:
            batch.stock = stock[batch.pk]


@admin.register(VoucherBatch)
class VoucherBatchAdmin(CardStockUploadViews, admin.ModelAdmin):
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

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *batch_inlines]

    # --- actions ----------------------------------------------------------------------------
    def has_change_status_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.change_batch_status")

    def has_export_secrets_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.export_secrets")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # batches are closed or voided, never deleted: their history stays

    export_codes = confirmed_action(
        service=vouchers_export_codes,
        permission="export_secrets",
        description=_("Export codes of the selected batches (CSV, recorded)"),
        selection=lambda batches: {"vouchers": Voucher.objects.filter(batch__in=batches)},
        done=_codes_download,
        title=_("Export codes in clear?"),
        message=_(
            "The file holds every code of these batches in clear. Each voucher is "
            "recorded as revealed, with your name and the reason. Keep the file safe."
        ),
        button=_("Yes, export the codes"),
    )
    pause = _batch_action(
        service=voucher_batch_pause,
        done=_("paused"),
        description=_("Pause claims on the selected batches"),
        confirm=False,
    )
    resume = _batch_action(
        service=voucher_batch_resume,
        done=_("resumed"),
        description=_("Resume claims on the selected batches"),
        confirm=False,
    )
    freeze = _batch_action(
        service=voucher_batch_freeze,
        done=_("frozen"),
        description=_("Freeze the selected batches (stop a leak)"),
        title=_("Freeze batches?"),
        message=_(
            "The batches take no claims and every available or claimed voucher in them is "
            "frozen: it cannot be claimed, revealed by partners or redeemed. Unfreezing "
            "returns each voucher to the status it had."
        ),
        button=_("Yes, freeze"),
    )
    unfreeze = _batch_action(
        service=voucher_batch_unfreeze,
        done=_("unfrozen"),
        description=_("Unfreeze the selected batches"),
        title=_("Unfreeze batches?"),
        message=_("Every frozen voucher returns to the status it had before."),
        button=_("Yes, unfreeze"),
    )
    close = _batch_action(
        service=voucher_batch_close,
        done=_("closed"),
        description=_("Close the selected batches for good"),
        title=_("Close batches?"),
        message=_(
            "Closed batches take no more claims, ever. Vouchers already claimed stay "
            "usable until they expire."
        ),
        button=_("Yes, close"),
    )
    void = _batch_action(
        service=voucher_batch_void,
        done=_("voided"),
        description=_("Void the selected batches and their vouchers"),
        title=_("Void batches?"),
        message=_(
            "The batches are closed and every voucher that is not redeemed is voided: it "
            "can never be used again. This cannot be undone."
        ),
        button=_("Yes, void everything"),
    )
    activate = confirmed_action(
        service=voucher_batch_activate,
        permission="change",
        description=_("Open the selected batches for claims"),
        each=lambda batch: {"batch": batch},
        label=lambda batch: batch.code,
        done=lambda batch, _batch: _("%(code)s is open for claims.") % {"code": batch.code},
        confirm=False,
        ask_reason=False,
    )
