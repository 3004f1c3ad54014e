"""The vocabulary every app shares: domain errors, the `Actor` who does something, the
request context (request id), text and identifier checks, spreadsheet-safe output, the
audit trail (`audit_record`, `audit_changes`) and the abstract actor-stamped models for
the who-did-it columns of event tables. No HTTP, no partner or console code, no rules.

The audit functions and the abstract models touch Django models, and the logging
configuration imports `core.request_context` before any model can be loaded, so those
four names are re-exported lazily (module `__getattr__`, PEP 562); the rest eagerly.
"""

from importlib import import_module

from .actors import Actor
from .errors import (
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestInProgress,
    ServiceUnavailable,
    ValidationFailed,
    payload_limit_text,
)
from .request_context import RequestIdLogFilter, current_request_id, request_id_var
from .spreadsheets import (
    SafeCsvWriter,
    SpreadsheetSafeExport,
    csv_writer,
    spreadsheet_safe,
    spreadsheet_safe_dataset,
    spreadsheet_safe_row,
)
from .text import (
    FREE_TEXT_MESSAGE,
    IDENTIFIER_MESSAGE,
    LENGTH_MESSAGE,
    IdentifierConverter,
    is_free_text_safe,
    is_identifier_safe,
    json_text_problem,
    text_field_errors,
    validate_free_text,
    validate_identifier,
)

_LAZY = {
    "audit_changes": ".audit",
    "audit_record": ".audit",
    "ActorStamped": ".stamped",
    "PartnerActorStamped": ".stamped",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FREE_TEXT_MESSAGE",
    "IDENTIFIER_MESSAGE",
    "LENGTH_MESSAGE",
    "Actor",
    "ActorStamped",
    "DomainError",
    "IdempotencyKeyReused",
    "IdentifierConverter",
    "NotFound",
    "PartnerActorStamped",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "RequestIdLogFilter",
    "RequestInProgress",
    "SafeCsvWriter",
    "ServiceUnavailable",
    "SpreadsheetSafeExport",
    "ValidationFailed",
    "audit_changes",
    "audit_record",
    "csv_writer",
    "current_request_id",
    "is_free_text_safe",
    "is_identifier_safe",
    "json_text_problem",
    "payload_limit_text",
    "request_id_var",
    "spreadsheet_safe",
    "spreadsheet_safe_dataset",
    "spreadsheet_safe_row",
    "text_field_errors",
    "validate_free_text",
    "validate_identifier",
]
