"""Voucher writes, one module per concern: `batches` (rules, create, activate, pause,
resume, close, edit), `generation`, `claims`, `transitions` (freeze, unfreeze, void, for
one voucher, a selection, a batch or an import file), `expiry`, `reveal` (an operator's
or a partner's reveal, the export with codes), `marks` (redeemed / unredeemed, called by
the redemption app) and `keys` (re-sealing under the newest key); `events` writes the
audit trail they share. Every state change of a voucher or a batch goes through here.
Not here: reads (`vouchers.selectors`), row locks (`vouchers.locks`), whether a voucher
can be redeemed and what it is worth (`vouchers.rules`), card-stock imports
(`vouchers.cardstock`). Callers import from the package (`from vouchers.services import
voucher_claim`), not from its modules. `vouchers.tasks` imports these services inside
each task only (the tasks <-> services cycle breaker).
"""

from .batches import (
    BATCH_EDITABLE_FIELDS,
    BATCH_RULE_FIELDS,
    MAX_GENERATED_QUANTITY,
    voucher_batch_activate,
    voucher_batch_close,
    voucher_batch_code_format,
    voucher_batch_create,
    voucher_batch_pause,
    voucher_batch_resume,
    voucher_batch_update,
    voucher_batch_update_validate,
    voucher_batch_validate,
)
from .claims import MAX_TRACE_BYTES, ClaimResult, voucher_claim
from .expiry import ExpiryReport, vouchers_expire_due
from .generation import GENERATION_CHUNK, voucher_batch_generate
from .keys import vouchers_reencrypt
from .marks import voucher_mark_redeemed, voucher_mark_unredeemed
from .reveal import (
    REVEAL_ANY_SCOPE,
    PartnerReveal,
    voucher_claimed_through,
    voucher_for_partner,
    voucher_reveal,
    voucher_reveal_for_partner,
    vouchers_export_codes,
)
from .transitions import (
    LIFECYCLE_CHUNK,
    TransitionReport,
    TransitionRule,
    card_stock_import_void,
    voucher_batch_freeze,
    voucher_batch_unfreeze,
    voucher_batch_void,
    voucher_freeze,
    voucher_unfreeze,
    voucher_void,
    vouchers_freeze,
    vouchers_unfreeze,
    vouchers_void,
)

__all__ = [
    "BATCH_EDITABLE_FIELDS",
    "BATCH_RULE_FIELDS",
    "GENERATION_CHUNK",
    "LIFECYCLE_CHUNK",
    "MAX_GENERATED_QUANTITY",
    "MAX_TRACE_BYTES",
    "REVEAL_ANY_SCOPE",
    "ClaimResult",
    "ExpiryReport",
    "PartnerReveal",
    "TransitionReport",
    "TransitionRule",
    "card_stock_import_void",
    "voucher_batch_activate",
    "voucher_batch_close",
    "voucher_batch_code_format",
    "voucher_batch_create",
    "voucher_batch_freeze",
    "voucher_batch_generate",
    "voucher_batch_pause",
    "voucher_batch_resume",
    "voucher_batch_unfreeze",
    "voucher_batch_update",
    "voucher_batch_update_validate",
    "voucher_batch_validate",
    "voucher_batch_void",
    "voucher_claim",
    "voucher_claimed_through",
    "voucher_for_partner",
    "voucher_freeze",
    "voucher_mark_redeemed",
    "voucher_mark_unredeemed",
    "voucher_reveal",
    "voucher_reveal_for_partner",
    "voucher_unfreeze",
    "voucher_void",
    "vouchers_expire_due",
    "vouchers_export_codes",
    "vouchers_freeze",
    "vouchers_reencrypt",
    "vouchers_unfreeze",
    "vouchers_void",
]
