from django.utils.translation import pgettext_lazy
from import_export import fields, resources

from riskcontrol.console.exports import LabelledExport
from riskcontrol.core.spreadsheets import SpreadsheetSafeExport

from .models import Voucher


class VoucherExportResource(LabelledExport, SpreadsheetSafeExport, resources.ModelResource):
    """A batch's vouchers for people with view rights: never the codes. Headers and
    states in the operator's language; serials, dates and member ids as they are."""

    export_labels = {
        "serial": pgettext_lazy("export column", "serial"),
        "batch": pgettext_lazy("export column", "batch"),
        "supplier_serial": pgettext_lazy("export column", "supplier_serial"),
        "status": pgettext_lazy("export column", "status"),
        "member": pgettext_lazy("export column", "member"),
        "claimed_at": pgettext_lazy("export column", "claimed_at"),
        "redeemed_at": pgettext_lazy("export column", "redeemed_at"),
        "expires_at": pgettext_lazy("export column", "expires_at"),
    }

    batch = fields.Field(attribute="batch__code", column_name="batch")
    member = fields.Field(attribute="member__external_id", column_name="member")

    class Meta:
        model = Voucher
        fields = (
            "serial",
            "batch",
            "supplier_serial",
            "status",
            "member",
            "claimed_at",
            "redeemed_at",
            "expires_at",
        )
        export_order = fields

    def dehydrate_status(self, voucher: Voucher) -> str:
        return str(voucher.get_status_display())

    def get_export_queryset(self, request=None):  # pragma: no cover - admin passes its queryset
        return Voucher.objects.select_related("batch", "member")
