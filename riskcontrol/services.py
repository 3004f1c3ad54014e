"""State changes of the gate, one import away: partner clients and their keys
(`partners.clients`), idempotency records (`partners.idempotency`) and the role groups
(`console.roles`). The functions live in those modules; this one only re-exports them so
callers keep `from riskcontrol.services import partner_client_create`."""

from .console.roles import roles_sync
from .partners.clients import (
    partner_client_create,
    partner_client_delete,
    partner_client_update,
    partner_key_issue,
    partner_keys_revoke,
)
from .partners.idempotency import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_fingerprint,
    idempotency_purge_expired,
    idempotency_reencrypt,
    idempotency_release,
    idempotency_stale_count,
)

__all__ = [
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
    "roles_sync",
]
