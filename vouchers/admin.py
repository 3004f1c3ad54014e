from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from riskcontrol.actors import Actor
from riskcontrol.errors import DomainError, ValidationFailed

from . import selectors
from .models import Voucher, VoucherBatch, VoucherEvent
from .services import (
    BATCH_RULE_FIELDS,
    voucher_batch_activate,
    voucher_batch_create,
    voucher_batch_validate,
)

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

    class Meta:
        model = VoucherBatch
        fields = [
            "code",
            "name",
            *VALUE_FIELDS,
            "valid_from",
            "valid_until",
            "valid_days",
            "per_member_limit",
            "allow_unclaimed_redemption",
            "cost_per_voucher",
            "region",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code_format"].required = False

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
            "code_format": data["code_format"] or None,
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
    actions = ["activate"]
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
        if obj is None:
            kwargs["form"] = BatchCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["code", "name", "kind", "quantity", "activate"]}),
                (
                    _("Value"),
                    {"fields": VALUE_FIELDS[1:]},
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

    # --- create through the service -----------------------------------------------------
    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        batch = voucher_batch_create(
            **form.service_arguments(), actor=Actor.for_user(request.user, request)
        )
        obj.pk = batch.pk

    # --- live progress and stock -------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="vouchers_voucherbatch_progress",
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
                "stock": selectors.batch_stock(batch_id=batch.pk, max_age=0),
                "progress_url": reverse("admin:vouchers_voucherbatch_progress", args=[batch.pk]),
                "status_labels": dict(Voucher.Status.choices),
                "recent_events": VoucherEvent.objects.filter(batch=batch)
                .select_related("voucher")
                .order_by("-created_at", "-id")[:20],
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # --- actions ----------------------------------------------------------------------------
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


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    """Vouchers, never their codes."""

    list_display = [
        "serial",
        "batch",
        "status",
        "member",
        "claimed_at",
        "redeemed_at",
        "expires_at",
    ]
    list_filter = ["status", "batch__kind", "claimed_at", "expires_at"]
    search_fields = ["serial", "supplier_serial"]
    search_help_text = _("Serial or supplier serial. (Codes are never searched here.)")
    list_select_related = ["batch", "member"]
    raw_id_fields = ["batch", "member"]
    inlines = [VoucherEventInline]
    show_full_result_count = False
    exclude = ["trace"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Voucher._meta.fields if field.name not in ("id",)]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
