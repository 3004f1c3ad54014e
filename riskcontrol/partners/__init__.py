"""Partner systems and what they hold: partner clients and their API keys (register,
update, issue, revoke, delete, each audited), the scopes a key may carry, and the
idempotency records of the partner API (claim, replay, release, re-seal, purge). The
models stay in `riskcontrol/models.py`; the HTTP side (authentication, the PartnerApi
base view) lives in `http/`, the console in `console/`.
"""

from .clients import (
    partner_client_create,
    partner_client_delete,
    partner_client_update,
    partner_key_issue,
    partner_keys_revoke,
)
from .idempotency import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_fingerprint,
    idempotency_purge_expired,
    idempotency_reencrypt,
    idempotency_release,
    idempotency_stale_count,
)
from .scopes import SCOPES, scope_choices

__all__ = [
    "SCOPES",
    "StoredResponse",
    "idempotency_begin",
    "idempotency_complete",
    "idempotency_fingerprint",
    "idempotency_purge_expired",
    "idempotency_reencrypt",
    "idempotency_release",
    "idempotency_stale_count",
    "partner_client_create",
    "partner_client_delete",
    "partner_client_update",
    "partner_key_issue",
    "partner_keys_revoke",
    "scope_choices",
]
