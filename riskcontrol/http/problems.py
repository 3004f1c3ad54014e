"""RFC 9457 problem details for the partner API: the one place errors become HTTP."""

from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
import redis.exceptions
from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..core.errors import DomainError, RateLimited, ServiceUnavailable, ValidationFailed

logger = logging.getLogger("quanyi.api")

# A database or broker that cannot be reached (or stops answering) is an outage, not a
# bug: 503 `service_unavailable` with Retry-After, never a 500. Only the class name is
# logged: a driver's message may quote the statement and its parameters.
OUTAGES: tuple[type[Exception], ...] = (
    db.OperationalError,
    db.InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
OUTAGE_RETRY_AFTER_SECONDS = 5

API_PREFIX = "/api/v1"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# DRF's own exceptions, by class: (stable code, title).
_DRF_CODES: list[tuple[type[drf.APIException], str, Any]] = [
    (drf.NotAuthenticated, "unauthenticated", _("Authentication is required.")),
    (drf.AuthenticationFailed, "unauthenticated", _("Authentication is required.")),
    (drf.PermissionDenied, "permission_denied", _("You do not have permission to do this.")),
    (drf.NotFound, "not_found", _("Not found.")),
    (drf.MethodNotAllowed, "method_not_allowed", _("Method not allowed.")),
    (drf.UnsupportedMediaType, "unsupported_media_type", _("The body must be JSON.")),
    (drf.ParseError, "parse_error", _("The body is not valid JSON.")),
    (drf.ValidationError, "validation_error", _("The request has invalid fields.")),
    (drf.Throttled, "rate_limited", _("Too many requests. Try again later.")),
    (drf.NotAcceptable, "not_acceptable", _("Cannot answer in the requested format.")),
]

_STATUS_CODES: dict[int, tuple[str, Any]] = {
    400: ("bad_request", _("Bad request.")),
    401: ("unauthenticated", _("Authentication is required.")),
    403: ("permission_denied", _("You do not have permission to do this.")),
    404: ("not_found", _("Not found.")),
    405: ("method_not_allowed", _("Method not allowed.")),
    413: ("payload_too_large", _("The request body is too large.")),
    415: ("unsupported_media_type", _("The body must be JSON.")),
    429: ("rate_limited", _("Too many requests. Try again later.")),
}


class ProblemResponse(Response):
    """A problem document rendered as JSON whatever renderer the view negotiated (the
    schema view renders YAML, the docs page HTML: their errors were not JSON)."""

    @property
    def rendered_content(self):
        self.accepted_renderer = JSONRenderer()
        self.accepted_media_type = PROBLEM_CONTENT_TYPE
        return super().rendered_content


def problem(status: int, code: str, title: Any, detail: Any = None, **extra: Any) -> dict:
    body = {
        "type": f"urn:quanyi:problem:{code}",
        "title": str(title),
        "status": status,
        "detail": str(detail if detail is not None else title),
        "code": code,
    }
    body.update(extra)
    return body


def _request_id(request: HttpRequest | None) -> str:
    return getattr(request, "request_id", "-") if request is not None else "-"


def server_error_problem(request: HttpRequest | None) -> dict:
    return problem(
        500,
        "server_error",
        _("Something went wrong on our side."),
        _("The error was logged; quote the request id when you contact support."),
        request_id=_request_id(request),
    )


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception in an API view ends here."""
    request = context.get("request")
    headers: dict[str, str] = {}

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, OUTAGES):
        logger.warning(
            "A part the API needs is unavailable in %s: %s",
            context.get("view").__class__.__name__,
            type(exc).__name__,
        )
        exc = ServiceUnavailable()
        headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)

    if isinstance(exc, DomainError):
        extra = dict(exc.extra)
        if isinstance(exc, ValidationFailed):
            extra["errors"] = exc.errors
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        body = problem(exc.status, exc.code, exc.title, exc.detail, **extra)
        status = exc.status
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        code, title = exc.default_code, exc.default_detail
        for exc_class, known_code, known_title in _DRF_CODES:
            if isinstance(exc, exc_class):
                code, title = known_code, known_title
                break
        extra = {}
        detail: Any = title
        if isinstance(exc, drf.ValidationError):
            errors = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            extra["errors"] = errors
        elif not isinstance(exc.detail, (dict, list)):
            detail = exc.detail
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        body = problem(status, code, title, detail, **extra)
    else:
        logger.exception("Unhandled error in API view %s", context.get("view").__class__.__name__)
        status = 500
        body = server_error_problem(request)

    set_rollback()
    return ProblemResponse(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_response_for_status(
    request: HttpRequest, status: int, original: HttpResponse | None = None, detail: Any = None
) -> JsonResponse:
    """A problem document for a non-DRF error response under /api/v1."""
    if status >= 500:
        body = server_error_problem(request)
        body["status"] = status
    else:
        code, title = _STATUS_CODES.get(status, ("error", _("The request failed.")))
        body = problem(status, code, title, detail)
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    if original is not None:
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if original.has_header(header):
                response[header] = original[header]
    return response


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown URLs under /api/v1, whatever the method (exempt from CSRF, which would
    otherwise answer 403 to a POST before the 404)."""
    body = problem(
        404, "not_found", _("Not found."), _("There is no API resource at this address.")
    )
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
