from import_export import resources

from riskcontrol.spreadsheets import SpreadsheetSafeExport

from .models import Store


class StoreResource(SpreadsheetSafeExport, resources.ModelResource):
    """Stores by code: import creates or updates (the same as `PUT /api/v1/stores/{code}`)."""

    class Meta:
        model = Store
        fields = ("code", "name", "address", "group", "active")
        export_order = fields
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = False
