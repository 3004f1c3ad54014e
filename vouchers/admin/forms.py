"""The batch create and change forms (checked by the batch services' own rules, so
messages land next to the fields), the card-stock upload form, and the small forms of
the voucher screens (reveal, find by code)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.errors import ValidationFailed

from ..dates import DayOrMomentField
from ..models import VoucherBatch
from ..services import (
    BATCH_EDITABLE_FIELDS,
    BATCH_RULE_FIELDS,
    voucher_batch_update_validate,
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
