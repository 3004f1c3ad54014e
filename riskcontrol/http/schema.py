"""OpenAPI pieces shared by every partner endpoint: the problem document and the error
responses each endpoint can answer, listed by their stable problem `code`s.

An endpoint names the errors it can raise (`DomainError` subclasses, from riskcontrol or
its own app, or the `ProblemCode`s below); `problem_responses` adds those every call can
meet (authentication, scope, rate limit, outage, server error) and, for an endpoint that
reads a body or takes an `Idempotency-Key`, those of the body and of idempotency. Each
HTTP status becomes one documented response whose description lists its codes and whose
examples show one problem document per code. The API documentation is the partner
contract and is written in English, like the field names and codes it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from ..core.errors import (
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    RequestInProgress,
    ServiceUnavailable,
)
from .problems import PROBLEM_CONTENT_TYPE

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string of 1-255 characters (a UUID is a good choice). Send it to retry "
        "safely: a retry with the same key and body within 24 hours answers the first "
        "response again, with header `Idempotent-Replayed: true`, instead of doing the "
        "work twice. The same key with a different body answers 422 "
        "`idempotency_key_reused`; while the first request is still running, 409 "
        "`request_in_progress`."
    ),
)


class ProblemOutput(serializers.Serializer):
    type = serializers.CharField(help_text="`urn:quanyi:problem:<code>`.")
    title = serializers.CharField(help_text="A short sentence for people; may change.")
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    detail = serializers.CharField(help_text="What went wrong in this case; may change.")
    code = serializers.CharField(
        help_text="Stable, machine-readable error code: branch on this, not on the text."
    )


class ValidationProblemOutput(ProblemOutput):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="With `validation_error`: the messages for each field that was refused.",
    )


class ServerErrorProblemOutput(ProblemOutput):
    request_id = serializers.CharField(help_text="Quote it to support; the log line carries it.")


def _english(text: Any) -> str:
    with translation.override("en"):
        return str(text)


@dataclass(frozen=True)
class ProblemCode:
    """One stable problem `code` an endpoint can answer, with its HTTP status, the title
    the answer carries and, for the documentation, when it happens."""

    code: str
    status: int
    title: Any
    when: Any = ""
    example: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, error: type[DomainError], when: Any = "", **example: Any) -> ProblemCode:
        """The code of a domain error; `when` defaults to the error's own title."""
        return cls(error.code, error.status, error.title, when, example)

    @property
    def explanation(self) -> str:
        return _english(self.when or self.title)


# Codes raised outside any one app's services: by authentication, permissions, the
# throttle, DRF's parsing and validation, idempotency and the exception handler itself.
UNAUTHENTICATED = ProblemCode(
    "unauthenticated",
    401,
    "Authentication is required.",
    "No `Authorization` header, or the key is unknown, expired or revoked, or its "
    "client is deactivated. The answer carries `WWW-Authenticate: Api-Key`.",
)
PERMISSION_DENIED = ProblemCode(
    "permission_denied",
    403,
    "You do not have permission to do this.",
    "The key's client lacks the scope this call needs, or a key bound to one store "
    "asks about another store.",
)
RATE_LIMITED = ProblemCode(
    "rate_limited",
    429,
    "Too many requests. Try again later.",
    "Too many calls from this client, or too many unknown codes, tokens or serials "
    "(the guessing limit). Wait the seconds in `Retry-After`.",
)
SERVER_ERROR = ProblemCode(
    "server_error",
    500,
    "Something went wrong on our side.",
    "Something failed on our side; it was logged. Quote `request_id` to support.",
    example={"request_id": "3f2b9c0d8e7a4b1c9d0e1f2a3b4c5d6e"},
)
SERVICE_UNAVAILABLE = ProblemCode.of(
    ServiceUnavailable,
    "A part the service needs is briefly down; nothing was changed. Retry after the "
    "seconds in `Retry-After`.",
)
VALIDATION_ERROR = ProblemCode(
    "validation_error",
    400,
    "The request has invalid fields.",
    "A field is missing or not acceptable; `errors` gives the messages per field.",
    example={"errors": {"field": ["This field is required."]}},
)
PARSE_ERROR = ProblemCode("parse_error", 400, "The body is not valid JSON.")
UNSUPPORTED_MEDIA_TYPE = ProblemCode(
    "unsupported_media_type",
    415,
    "The body must be JSON.",
    "The body is not sent as `application/json`.",
)
PAYLOAD_TOO_LARGE = ProblemCode.of(PayloadTooLarge, "The body is larger than the limit (2.5 MB).")
IDEMPOTENCY_KEY_REUSED = ProblemCode.of(
    IdempotencyKeyReused,
    "This `Idempotency-Key` was already used with a different request; use a new key.",
)
REQUEST_IN_PROGRESS = ProblemCode.of(
    RequestInProgress,
    "A request with this `Idempotency-Key` is still running; retry it in a moment.",
)
NOT_FOUND = ProblemCode.of(NotFound)

EVERY_CALL = (UNAUTHENTICATED, PERMISSION_DENIED, RATE_LIMITED, SERVER_ERROR, SERVICE_UNAVAILABLE)
BODY = (VALIDATION_ERROR, PARSE_ERROR, UNSUPPORTED_MEDIA_TYPE, PAYLOAD_TOO_LARGE)
IDEMPOTENCY = (VALIDATION_ERROR, IDEMPOTENCY_KEY_REUSED, REQUEST_IN_PROGRESS)

_SERIALIZERS = {400: ValidationProblemOutput, 500: ServerErrorProblemOutput}


def problem_example(problem: ProblemCode) -> dict[str, Any]:
    title = _english(problem.title)
    return {
        "type": f"urn:quanyi:problem:{problem.code}",
        "title": title,
        "status": problem.status,
        "detail": title,
        "code": problem.code,
        **problem.example,
    }


def _describe(problems: list[ProblemCode]) -> str:
    lines = [f"- `{problem.code}`: {problem.explanation}" for problem in problems]
    return "A problem document (RFC 9457); its `code` is one of:\n\n" + "\n".join(lines)


def problem_responses(
    *errors: type[DomainError] | ProblemCode,
    body: bool = False,
    idempotent: bool = False,
    authenticated: bool = True,
) -> dict:
    """`{(status, "application/problem+json"): OpenApiResponse}` for `extend_schema`:
    every error the endpoint can answer, grouped by HTTP status. `errors` are the ones
    particular to the endpoint; `body` adds those of reading a JSON body, `idempotent`
    those of `Idempotency-Key` (which reads the body too), `authenticated` those every
    partner call can meet."""
    wanted: list[ProblemCode] = [
        error if isinstance(error, ProblemCode) else ProblemCode.of(error) for error in errors
    ]
    if body or idempotent:
        wanted += BODY
    if idempotent:
        wanted += IDEMPOTENCY
    wanted += EVERY_CALL if authenticated else (SERVER_ERROR,)

    by_status: dict[int, list[ProblemCode]] = {}
    for problem in wanted:
        listed = by_status.setdefault(problem.status, [])
        if all(other.code != problem.code for other in listed):
            listed.append(problem)

    responses = {}
    for status in sorted(by_status):
        problems = by_status[status]
        responses[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(
            response=_SERIALIZERS.get(status, ProblemOutput),
            description=_describe(problems),
            examples=[
                OpenApiExample(
                    problem.code,
                    value=problem_example(problem),
                    status_codes=[str(status)],
                    response_only=True,
                )
                for problem in problems
            ],
        )
    return responses
