"""Console exports (django-import-export) in the operator's language.

A resource keeps its machine column names (`column_name`: the import contract, the same
in every language); `export_labels` names them for people, as msgids in the context
"export column" whose English is the machine name itself (so an English export reads as
it always did). An export's header row and the
export form's field list use those names in the operator's language, the data (codes,
serials, dates, amounts) stays as it is. An import accepts either the machine name or the
label in any of the site's languages, so a file exported in Chinese imports again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from import_export.forms import SelectableFieldsExportForm


class LabelledExport:
    """Mix into a django-import-export resource; set `export_labels` (column name ->
    lazy label)."""

    export_labels: dict[str, Any] = {}

    def get_export_headers(self, selected_fields=None) -> list[str]:
        headers = super().get_export_headers(selected_fields=selected_fields)
        return [str(self.export_labels.get(header, header)) for header in headers]

    def before_import(self, dataset, **kwargs) -> None:
        by_label: dict[str, str] = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                by_label.update(
                    {str(label): column for column, label in self.export_labels.items()}
                )
        if dataset.headers:
            dataset.headers = [by_label.get(str(h).strip(), h) for h in dataset.headers]
        super().before_import(dataset, **kwargs)


class LabelledExportForm(SelectableFieldsExportForm):
    """The export page's field checkboxes, named by the resource's `export_labels`."""

    def _get_field_label(self, resource, field_name: str) -> str:
        label = str(getattr(resource, "export_labels", {}).get(field_name, field_name))
        return label if label != field_name else super()._get_field_label(resource, field_name)
