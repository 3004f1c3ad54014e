"""Moved to `vouchers.services.batches` (issue 10). This module only re-exports the
batch-edit services so existing imports (the vouchers console) keep working; import them
from `vouchers.services` in new code."""

from .services import BATCH_EDITABLE_FIELDS, voucher_batch_update, voucher_batch_update_validate

__all__ = ["BATCH_EDITABLE_FIELDS", "voucher_batch_update", "voucher_batch_update_validate"]
