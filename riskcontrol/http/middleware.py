"""Request ids for log correlation, and problem documents for everything under /api/v1."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext_lazy as _

from ..core.errors import payload_limit_text
from ..core.request_context import request_id_var
from .problems import API_PREFIX, problem_response_for_status

_INCOMING_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Answers that are already JSON (problem documents, the health report) pass untouched.
JSON_TYPES = ("application/problem+json", "application/json")
NUL_MESSAGE = _("The query string holds a NUL character, which no field can contain.")


class RequestIdMiddleware:
    """Takes a sane incoming `X-Request-ID` (from a load balancer) or makes one; every log
    line of the request carries it, and so does the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiProblemMiddleware:
    """DRF views answer problem documents themselves; this catches the rest under /api/v1
    (errors raised outside a DRF view, Django's own 400/403/500 pages) so a partner never
    sees HTML or a stack trace.

    It sits right after `RequestIdMiddleware`, outside the middleware that reads the Host
    header, so a bad Host (Django's 400 page) becomes a problem document too. A body
    announced larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` is refused here with 413
    `payload_too_large` before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX) and _announced_too_large(request):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return problem_response_for_status(request, 413, detail=payload_limit_text(limit))
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith(JSON_TYPES)
        ):
            return problem_response_for_status(request, response.status_code, response)
        return response


class NulQueryMiddleware:
    """No identifier, filter or search term holds NUL, and PostgreSQL cannot even compare
    one (a console filter `?status=%00` was a 500): a query string with NUL answers 400
    with a sentence, for the console, the store page and the API alike. Sits after
    `LocaleMiddleware`, so the sentence is in the caller's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _nul_in_query(request):
            if request.path.startswith(API_PREFIX):
                return problem_response_for_status(request, 400, detail=NUL_MESSAGE)
            return HttpResponseBadRequest(str(NUL_MESSAGE), content_type="text/plain")
        return self.get_response(request)


def _nul_in_query(request: HttpRequest) -> bool:
    return any(
        "\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values
    )


def _announced_too_large(request: HttpRequest) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return limit is not None and length > limit
