"""The batch console: list with stock columns, create and change through the batch
services, live progress, and the batch actions (each one a `confirmed_action`). Other
apps add inlines to the batch page through `batch_inlines` (from their AppConfig.ready),
never by changing `VoucherBatchAdmin`. The card-stock upload view lives in card_stock."""

from __future__ import annotations

import io
import itertools

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
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


def batch_value_text(batch: VoucherBatch) -> str:
    """What a batch is worth, as people read it: "20.00 CNY", "20% off" (a percent batch
    has no face value, so never "0.00"), "spend 100.00, save 20.00 CNY"."""
    VT = VoucherBatch.ValueType
    if batch.value_type == VT.PERCENT and batch.percent_off is not None:
        text = str(_("%(percent)s%% off") % {"percent": f"{batch.percent_off.normalize():f}"})
        if batch.max_discount:
            text = str(
                _("%(value)s, at most %(max)s %(currency)s")
                % {"value": text, "max": batch.max_discount, "currency": batch.currency}
            )
        return text
    if batch.value_type == VT.THRESHOLD and batch.min_order_amount is not None:
        return str(
            _("spend %(minimum)s, save %(value)s %(currency)s")
            % {
                "minimum": batch.min_order_amount,
                "value": batch.face_value,
                "currency": batch.currency,
            }
        )
    if batch.face_value:
        return f"{batch.face_value} {batch.currency}"
    return "—"


def batch_progress(batch: VoucherBatch) -> dict:
    """A batch's status and generation, as the batch pages show them and poll them."""
    return {
        "status": batch.status,
        "status_label": str(batch.get_status_display()),
        "generation": batch.generation,
        "generation_label": str(batch.get_generation_display()),
        "generated": batch.generated_count,
        "quantity": batch.quantity,
        "generated_text": f"{batch.generated_count:,}",
        "quantity_text": f"{batch.quantity:,}",
        "busy": batch.generation
        in (VoucherBatch.Generation.PENDING, VoucherBatch.Generation.RUNNING),
    }


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
        "value_text",
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
        "value_text",
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
    change_list_template = "admin/vouchers/voucherbatch/change_list.html"

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
            (_("Value"), {"fields": self._value_fields(obj)}),
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

    @staticmethod
    def _value_fields(batch: VoucherBatch) -> list[str]:
        """The value as one line first, then only the value fields this kind of batch
        uses: a percent batch shows no face value (it has none), the others no
        percentage or maximum discount."""
        percent = batch.value_type == VoucherBatch.ValueType.PERCENT
        unused = {"face_value"} if percent else {"percent_off", "max_discount"}
        fields = [field for field in VALUE_FIELDS if field not in unused]
        return [*fields[:2], "value_text", *fields[2:]]

    # --- list columns ---------------------------------------------------------------------
    @admin.display(description=_("value"))
    def value_text(self, batch: VoucherBatch) -> str:
        return batch_value_text(batch)

    @admin.display(description=_("generation"))
    def generation_progress(self, batch: VoucherBatch) -> str:
        if batch.source != VoucherBatch.Source.GENERATED:
            return "—"
        progress = batch_progress(batch)
        return format_html(
            '<span class="batch-generation" data-url="{}" data-busy="{}">{} {} / {}</span>',
            reverse("admin:vouchers_voucherbatch_progress", args=[batch.pk]),
            "1" if progress["busy"] else "",
            progress["generation_label"],
            progress["generated_text"],
            progress["quantity_text"],
        )

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
        # The form built no instance (the service did): take the created batch's values,
        # so the saved message and the change log name the batch.
        for field in VoucherBatch._meta.concrete_fields:
            setattr(obj, field.attname, getattr(batch, field.attname))
        obj._state.adding = False

    def _saved(self, request, obj: VoucherBatch, message: str):
        """The saved message names the batch ("Batch “GOLD20 金卡20元券” saved."); then
        wherever the pressed button leads."""
        self.message_user(request, message % {"batch": f"{obj.code} {obj.name}"}, messages.SUCCESS)
        if "_continue" in request.POST:
            return HttpResponseRedirect(
                reverse("admin:vouchers_voucherbatch_change", args=[obj.pk])
            )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:vouchers_voucherbatch_add"))
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        message = (
            _("Batch “%(batch)s” created; its codes are being generated.")
            if obj.source == VoucherBatch.Source.GENERATED
            else _("Batch “%(batch)s” created.")
        )
        return self._saved(request, obj, message) or self.response_post_save_add(request, obj)

    def response_change(self, request, obj):
        if IS_POPUP_VAR in request.POST or "_saveasnew" in request.POST:
            return super().response_change(request, obj)
        return self._saved(request, obj, _("Batch “%(batch)s” saved.")) or (
            self.response_post_save_change(request, obj)
        )

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
        response = JsonResponse(
            {
                **batch_progress(batch),
                "stock": selectors.batch_stock(batch_id=batch.pk, max_age=0),
            }
        )
        response["Cache-Control"] = "no-store"
        return response

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
                "progress": batch_progress(batch),
                "status_labels": dict(Voucher.Status.choices),
                "batch_events": [
                    (
                        event,
                        event.action_label,
                        event.detail_label,
                    )
                    for event in BatchEvent.objects.filter(batch=batch).order_by(
                        "-created_at", "-id"
                    )[:20]
                ],
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
            "The file holds every code of these batches in clear. The export is recorded "
            "in each batch's history with your name, the reason and the number of codes. "
            "Keep the file safe."
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
