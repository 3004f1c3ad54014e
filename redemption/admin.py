from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from riskcontrol.console.confirm import confirmed_action
from riskcontrol.console.exports import LabelledExportForm
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from vouchers.models import Voucher

from .models import BatchRedemptionRule, Redemption, Store, StoreStaff
from .resources import StoreResource
from .rule_edits import (
    batch_redemption_rule_remove,
    batch_redemption_rule_set,
    batch_redemption_rule_validate,
)
from .rules import WindowSyntaxError, format_windows, parse_windows
from .services import (
    redemption_reverse,
    store_delete,
    store_staff_assign,
    store_staff_remove,
    store_staff_update,
    store_update,
    store_upsert,
)


def _add_service_errors(form: forms.BaseForm, error: ValidationFailed, fields: dict) -> None:
    """Show a service's per-field messages next to the form's fields (`fields` maps a
    service argument to the form field that carries it)."""
    for field, field_messages in error.errors.items():
        target = fields.get(field, field)
        for message in field_messages:
            form.add_error(target if target in form.fields else None, message)


class ServiceInlineFormSet(forms.BaseInlineFormSet):
    """An inline formset that saves each row through services instead of `Model.save()`.
    `actor` is set per request by the inline's `get_formset`. Subclasses implement
    `create`, `update` and `remove`; the admin's change message still lists what changed."""

    actor: Actor

    def save(self, commit=True):
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form in self.initial_forms:
            if self.can_delete and self._should_delete_form(form):
                self.remove(form.instance)
                self.deleted_objects.append(form.instance)
            elif form.has_changed():
                self.changed_objects.append((self.update(form), form.changed_data))
        for form in self.extra_forms:
            if not form.has_changed() or (self.can_delete and self._should_delete_form(form)):
                continue
            self.new_objects.append(self.create(form))
        return [*self.new_objects, *(obj for obj, _changed in self.changed_objects)]


class ServiceInline:
    """Mixin for inlines whose formset is a `ServiceInlineFormSet`."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = Actor.for_user(request.user, request)
        return formset


class StoreStaffFormSet(ServiceInlineFormSet):
    def create(self, form) -> StoreStaff:
        data = form.cleaned_data
        return store_staff_assign(
            store=self.instance, user=data["user"], role=data["role"], actor=self.actor
        )

    def update(self, form) -> StoreStaff:
        data = form.cleaned_data
        return store_staff_update(
            staff=form.instance,
            store=self.instance,
            user=data["user"],
            role=data["role"],
            actor=self.actor,
        )

    def remove(self, staff: StoreStaff) -> None:
        store_staff_remove(staff=staff, actor=self.actor)


class StoreStaffInline(ServiceInline, admin.TabularInline):
    model = StoreStaff
    formset = StoreStaffFormSet
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Store)
class StoreAdmin(ImportExportMixin, admin.ModelAdmin):
    """Stores are written by the store services (as the partner API does); the code is
    fixed once created, because partner clients and keys refer to it."""

    resource_classes = [StoreResource]
    export_form_class = LabelledExportForm
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ["code", "name", "group", "address", "active"]
    list_filter = ["active", "group"]
    search_fields = ["code", "name", "address", "group"]
    inlines = [StoreStaffInline]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        actor = Actor.for_user(request.user, request)
        fields = {key: data[key] for key in ("name", "address", "group", "active")}
        if change:
            store_update(store=obj, **fields, actor=actor)
            return
        store, _created = store_upsert(code=data["code"], **fields, actor=actor)
        obj.pk = store.pk

    def delete_model(self, request, obj) -> None:
        store_delete(store=obj, actor=Actor.for_user(request.user, request))

    def delete_queryset(self, request, queryset) -> None:
        actor = Actor.for_user(request.user, request)
        for store in queryset:
            store_delete(store=store, actor=actor)


class StoreStaffForm(forms.ModelForm):
    class Meta:
        model = StoreStaff
        fields = ["user", "store", "role"]


@admin.register(StoreStaff)
class StoreStaffAdmin(admin.ModelAdmin):
    form = StoreStaffForm
    list_display = ["user", "store", "role"]
    list_filter = ["role", "store"]
    search_fields = ["user__username", "store__code", "store__name"]
    autocomplete_fields = ["user", "store"]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        actor = Actor.for_user(request.user, request)
        if change:
            store_staff_update(
                staff=obj, store=data["store"], user=data["user"], role=data["role"], actor=actor
            )
            return
        staff = store_staff_assign(
            store=data["store"], user=data["user"], role=data["role"], actor=actor
        )
        obj.pk = staff.pk

    def delete_model(self, request, obj) -> None:
        store_staff_remove(staff=obj, actor=Actor.for_user(request.user, request))

    def delete_queryset(self, request, queryset) -> None:
        actor = Actor.for_user(request.user, request)
        for staff in queryset.select_related("user", "store"):
            store_staff_remove(staff=staff, actor=actor)


class RuleForm(forms.ModelForm):
    windows_text = forms.CharField(
        label=_("weekly time windows"),
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=_(
            "Empty: any time. For example “周一至周五 10:00-22:00；周六、周日 09:00-18:00”, "
            "“Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00”, or hours alone for every day: "
            "“10:00-22:00” (in the platform's time zone). A window ends by midnight "
            "(24:00); split a night across two days."
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
        if self.instance.pk and "windows_text" not in self.changed_data:
            # Shown as stored and sent back untouched: keep it as it is (a rule saved
            # before today's checks, such as two overlapping windows, does not block
            # saving the rest of the batch page).
            return self.instance.windows
        try:
            return parse_windows(self.cleaned_data["windows_text"])
        except WindowSyntaxError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_store_groups_text(self):
        text = self.cleaned_data["store_groups_text"].replace("，", ",")
        return [group.strip() for group in text.split(",") if group.strip()]

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("DELETE") or (self.instance.pk and not self.has_changed()):
            return cleaned  # an unchanged rule is not written, so not checked again
        try:
            batch_redemption_rule_validate(**self.service_arguments())
        except ValidationFailed as error:
            _add_service_errors(
                self,
                error,
                {"store_groups": "store_groups_text", "windows": "windows_text"},
            )
        return cleaned

    def _post_clean(self):
        # No model instance is built here: `batch_redemption_rule_set` writes the rule.
        pass

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "store_scope": data["store_scope"],
            "stores": list(data["stores"]),
            "store_groups": data["store_groups_text"],
            "windows": data["windows_text"],
            "min_order_amount": data["min_order_amount"],
        }


class RuleFormSet(ServiceInlineFormSet):
    def create(self, form) -> BatchRedemptionRule:
        return batch_redemption_rule_set(
            batch=self.instance, **form.service_arguments(), actor=self.actor
        )

    update = create

    def remove(self, rule: BatchRedemptionRule) -> None:
        batch_redemption_rule_remove(batch=self.instance, actor=self.actor)


class BatchRedemptionRuleInline(ServiceInline, admin.StackedInline):
    model = BatchRedemptionRule
    form = RuleForm
    formset = RuleFormSet
    can_delete = True
    extra = 0
    max_num = 1
    filter_horizontal = ["stores"]
    verbose_name_plural = _("redemption rules (empty: any store, any time)")
    # The redemption app owns a batch's redemption rules; they are edited on the batch
    # page, where RedemptionConfig.ready() registers this inline (vouchers.admin.batch_inlines).


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

    exclude = ["voucher_status_before"]

    def get_readonly_fields(self, request, obj=None):
        return [
            "status_before" if field.name == "voucher_status_before" else field.name
            for field in Redemption._meta.fields
        ]

    @admin.display(description=_("voucher status before"))
    def status_before(self, obj: Redemption) -> str:
        status = obj.voucher_status_before
        return str(Voucher.Status(status).label) if status in Voucher.Status.values else status

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("redemption.change_redemption")

    reverse_selected = confirmed_action(
        service=redemption_reverse,
        permission="reverse",
        description=_("Reverse the selected redemptions"),
        each=lambda redemption: {"redemption_id": redemption.pk},
        label=lambda redemption: f"#{redemption.pk}",
        done=lambda redemption, _reversed: _("#%(id)s reversed.") % {"id": redemption.pk},
        title=_("Reverse redemptions?"),
        message=_(
            "Each voucher goes back to the status it had before it was redeemed "
            "(within the reversal window)."
        ),
        button=_("Yes, reverse"),
    )
