"""Domain errors. Services raise them; `riskcontrol.http.problems` maps them to HTTP once.

Each app defines its own (`SoldOut`, `AlreadyRedeemed`, ...) by subclassing `DomainError`
with a stable `code` (API.md's table) and an HTTP `status`.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code: str = "domain_error"
    status: int = 409
    title: Any = _("The request cannot be carried out.")

    def __init__(self, detail: Any = None, **extra: Any) -> None:
        self.detail = detail if detail is not None else self.title
        self.extra = extra
        super().__init__(str(self.detail))


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = _("Not found.")


class ValidationFailed(DomainError):
    """Input a service cannot accept, per field: `errors={"phone": ["..."]}`."""

    code = "validation_error"
    status = 400
    title = _("The request has invalid fields.")

    def __init__(self, errors: dict[str, list[Any]], detail: Any = None) -> None:
        super().__init__(detail)
        self.errors = errors


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    title = _("You do not have permission to do this.")


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    title = _("Too many requests. Try again later.")

    def __init__(self, retry_after: int, detail: Any = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    title = _("This Idempotency-Key was already used with a different request.")


class RequestInProgress(DomainError):
    code = "request_in_progress"
    status = 409
    title = _("A request with this Idempotency-Key is still being processed.")


class ServiceUnavailable(DomainError):
    """A part the call needs (the database, the broker) is down or not answering. Nothing
    was changed that the client has to know about; the same request may be retried."""

    code = "service_unavailable"
    status = 503
    title = _("The service is briefly unavailable. Try again shortly.")


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    title = _("The request body is too large.")


def payload_limit_text(limit: int) -> str:
    return str(_("Send at most %(limit)d bytes.") % {"limit": limit})
