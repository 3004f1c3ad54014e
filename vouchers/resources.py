from import_export import fields, resources

from riskcontrol.core.spreadsheets import SpreadsheetSafeExport

from .models import Voucher


class VoucherExportResource(SpreadsheetSafeExport, resources.ModelResource):
    """A batch's vouchers for people with view rights: never the codes."""

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

    def get_export_queryset(self, request=None):  # pragma: no cover - admin passes its queryset
        return Voucher.objects.select_related("batch", "member")
