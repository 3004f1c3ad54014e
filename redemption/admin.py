from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from riskcontrol.actors import Actor
from riskcontrol.admin_confirm import confirmation_page, confirmed_reason
from riskcontrol.errors import DomainError
from vouchers.admin import VoucherBatchAdmin

from .models import BatchRedemptionRule, Redemption, Store, StoreStaff
from .resources import StoreResource
from .rules import WindowSyntaxError, format_windows, parse_windows
from .services import redemption_reverse


class StoreStaffInline(admin.TabularInline):
    model = StoreStaff
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Store)
class StoreAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [StoreResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ["code", "name", "group", "address", "active"]
    list_filter = ["active", "group"]
    search_fields = ["code", "name", "address", "group"]
    inlines = [StoreStaffInline]


@admin.register(StoreStaff)
class StoreStaffAdmin(admin.ModelAdmin):
    list_display = ["user", "store", "role"]
    list_filter = ["role", "store"]
    search_fields = ["user__username", "store__code", "store__name"]
    autocomplete_fields = ["user", "store"]


class RuleForm(forms.ModelForm):
    windows_text = forms.CharField(
        label=_("weekly time windows"),
        required=False,
        help_text=_(
            "Empty: any time. Example: “Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00” "
            "(in the platform's time zone)."
        ),
    )
    store_groups_text = forms.CharField(
        label=_("store groups"), required=False, help_text=_("Comma-separated, e.g. 上海, 杭州")
    )

    class Meta:
        model = BatchRedemptionRule
        fields = ["store_scope", "stores", "store_groups_text", "windows_text", "min_order_amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["windows_text"].initial = format_windows(self.instance.windows)
            self.fields["store_groups_text"].initial = ", ".join(self.instance.store_groups)

    def clean_windows_text(self):
        try:
            return parse_windows(self.cleaned_data["windows_text"])
        except WindowSyntaxError as error:
            raise forms.ValidationError(
                _("Cannot read “%(part)s”. Write days and hours like “Mon-Fri 10:00-14:00”.")
                % {"part": error}
            ) from None

    def clean_store_groups_text(self):
        text = self.cleaned_data["store_groups_text"].replace("，", ",")
        return [group.strip() for group in text.split(",") if group.strip()]

    def save(self, commit=True):
        self.instance.windows = self.cleaned_data["windows_text"]
        self.instance.store_groups = self.cleaned_data["store_groups_text"]
        return super().save(commit)


class BatchRedemptionRuleInline(admin.StackedInline):
    model = BatchRedemptionRule
    form = RuleForm
    can_delete = True
    extra = 0
    max_num = 1
    filter_horizontal = ["stores"]
    verbose_name_plural = _("redemption rules (empty: any store, any time)")


# The redemption app owns a batch's redemption rules; they are edited on the batch page.
if BatchRedemptionRuleInline not in VoucherBatchAdmin.inlines:
    VoucherBatchAdmin.inlines = [*VoucherBatchAdmin.inlines, BatchRedemptionRuleInline]


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "redeemed_at",
        "store",
        "batch",
        "voucher",
        "order_ref",
        "order_amount",
        "discount_amount",
        "status",
        "actor_label",
    ]
    list_filter = ["status", "method", "store", "redeemed_at"]
    search_fields = ["=order_ref", "=voucher__serial"]
    list_select_related = ["store", "batch", "voucher"]
    date_hierarchy = "redeemed_at"
    actions = ["reverse_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Redemption._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("redemption.change_redemption")

    @admin.action(description=_("Reverse the selected redemptions"), permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        reason = confirmed_reason(request)
        if reason is None:
            return confirmation_page(
                self,
                request,
                queryset,
                action="reverse_selected",
                title=_("Reverse redemptions?"),
                message=_(
                    "Each voucher goes back to the status it had before it was redeemed "
                    "(within the reversal window)."
                ),
                button=_("Yes, reverse"),
                ask_reason=True,
            )
        actor = Actor.for_user(request.user, request)
        for redemption in queryset:
            try:
                redemption_reverse(redemption_id=redemption.pk, actor=actor, reason=reason)
            except DomainError as error:
                self.message_user(request, f"#{redemption.pk}: {error.detail}", messages.WARNING)
            else:
                self.message_user(
                    request, _("#%(id)s reversed.") % {"id": redemption.pk}, messages.SUCCESS
                )
        return None
