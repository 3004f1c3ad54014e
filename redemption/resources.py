from django.utils.translation import pgettext_lazy
from import_export import resources

from riskcontrol.console.exports import LabelledExport
from riskcontrol.core.actors import Actor
from riskcontrol.core.spreadsheets import SpreadsheetSafeExport

from .models import Store
from .services import store_upsert


class StoreResource(LabelledExport, SpreadsheetSafeExport, resources.ModelResource):
    """Stores by code: import creates or updates through `store_upsert` (the same as
    `PUT /api/v1/stores/{code}`), recorded with the importing operator."""

    export_labels = {
        "code": pgettext_lazy("export column", "code"),
        "name": pgettext_lazy("export column", "name"),
        "address": pgettext_lazy("export column", "address"),
        "group": pgettext_lazy("export column", "group"),
        "active": pgettext_lazy("export column", "active"),
    }

    class Meta:
        model = Store
        fields = ("code", "name", "address", "group", "active")
        export_order = fields
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = False

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        user = kwargs.get("user")
        instance._import_actor = Actor.for_user(user) if user is not None else None

    def do_instance_save(self, instance, is_create):
        store, _created = store_upsert(
            code=instance.code,
            name=instance.name,
            address=instance.address or "",
            group=instance.group or "",
            active=instance.active,
            actor=instance._import_actor,
        )
        instance.pk = store.pk
