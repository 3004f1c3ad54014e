"""OpenAPI pieces shared by every partner endpoint: the problem document and the error
responses each kind of endpoint can answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1-255 characters. A retry with the same key and body within 24 h replays the first "
        "response (header `Idempotent-Replayed: true`)."
    ),
)


class ProblemOutput(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable error code (API.md).")


class ValidationProblemOutput(ProblemOutput):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field.",
    )


class ServerErrorProblemOutput(ProblemOutput):
    request_id = serializers.CharField(help_text="Quote it to support; the log line carries it.")


def _problem(description: str, serializer=ProblemOutput) -> OpenApiResponse:
    return OpenApiResponse(response=serializer, description=description)


def problem_responses(*statuses: int, **descriptions: str) -> dict:
    """`{(status, "application/problem+json"): OpenApiResponse}` for `extend_schema`.
    401, 403, 429 and 500 are added to every authenticated endpoint, 413 to every one
    that reads a body."""
    known = {
        400: ("validation_error / parse_error", ValidationProblemOutput),
        401: ("unauthenticated: no key, unknown key or revoked key", ProblemOutput),
        403: ("permission_denied: the key lacks the scope", ProblemOutput),
        404: ("not_found", ProblemOutput),
        409: ("conflict (see `code`)", ProblemOutput),
        413: ("payload_too_large: the body is over the size limit (2.5 MB)", ProblemOutput),
        415: ("unsupported_media_type: the body is not JSON", ProblemOutput),
        422: ("idempotency_key_reused", ProblemOutput),
        429: ("rate_limited (see Retry-After)", ProblemOutput),
        500: ("server_error (carries request_id)", ServerErrorProblemOutput),
        503: ("service_unavailable: a part it needs is down; retry later", ProblemOutput),
    }
    # An endpoint that reads a body (it can answer 415) can also answer 413.
    body_statuses = {413} if 415 in statuses else set()
    wanted = sorted({*statuses, *body_statuses, 401, 403, 429, 500})
    responses = {}
    for status in wanted:
        text, serializer = known[status]
        text = descriptions.get(f"s{status}", text)
        responses[(status, PROBLEM_CONTENT_TYPE)] = _problem(text, serializer)
    return responses
