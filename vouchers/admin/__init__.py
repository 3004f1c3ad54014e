"""The vouchers console (Django admin), one module per screen family: `batches` (the
batch list, create/change, progress and the batch actions), `vouchers` (vouchers,
their history, the one search box, reveal, bulk actions), `card_stock` (upload, import
report, confirm, abandon, void a leaked file), `forms` and `readable` (event context and
claim traces as label: value rows). Importing the package registers the
ModelAdmins. Rules do not live here: every write goes through vouchers' services, and
every confirm-then-act action is built with riskcontrol's `confirmed_action`. Apps above
vouchers add inlines to the batch page with `batch_inlines.register(Inline)` from their
AppConfig.ready()."""

from .batches import BatchChangeList, InlineRegistry, VoucherBatchAdmin, batch_inlines
from .card_stock import CardStockImportAdmin, CardStockUploadViews
from .forms import (
    CREATE_VALUE_FIELDS,
    VALUE_FIELDS,
    BatchChangeForm,
    BatchCreateForm,
    CardStockUploadForm,
    FindByCodeForm,
    RevealForm,
    valid_from_field,
    valid_until_field,
)
from .reports import report_message
from .vouchers import VoucherAdmin, VoucherEventInline

__all__ = [
    "CREATE_VALUE_FIELDS",
    "VALUE_FIELDS",
    "BatchChangeForm",
    "BatchChangeList",
    "BatchCreateForm",
    "CardStockImportAdmin",
    "CardStockUploadForm",
    "CardStockUploadViews",
    "FindByCodeForm",
    "InlineRegistry",
    "RevealForm",
    "VoucherAdmin",
    "VoucherBatchAdmin",
    "VoucherEventInline",
    "batch_inlines",
    "report_message",
    "valid_from_field",
    "valid_until_field",
]
