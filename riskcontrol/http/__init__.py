"""The partner API's plumbing, shared by every app's `api.py`: RFC 9457 problem details
and the one exception handler, OpenAPI schema helpers, pagination, the `PartnerApi` base
view (actor, identifier checks, idempotency), middleware, the bounded JSON parser, API-key
authentication, scope permission, throttles and the health endpoint. No business rules
and no models of its own (partner clients and idempotency records live in `partners/`).
"""

from .authentication import ApiKeyAuthentication, PartnerPrincipal
from .health import ComponentStatus, HealthApi
from .middleware import ApiProblemMiddleware, NulQueryMiddleware, RequestIdMiddleware
from .pagination import PagePagination
from .parsers import BoundedJSONParser, json_depth
from .partner_api import IDEMPOTENCY_HEADER, REPLAY_HEADER, PartnerApi
from .permissions import HasScope
from .problems import (
    API_PREFIX,
    PROBLEM_CONTENT_TYPE,
    ProblemResponse,
    api_not_found,
    exception_handler,
    problem,
    problem_response_for_status,
    server_error_problem,
)
from .schema import (
    IDEMPOTENCY_PARAMETER,
    ProblemCode,
    ProblemOutput,
    ServerErrorProblemOutput,
    ValidationProblemOutput,
    problem_responses,
)
from .throttles import PartnerClientRateThrottle

__all__ = [
    "API_PREFIX",
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_PARAMETER",
    "PROBLEM_CONTENT_TYPE",
    "REPLAY_HEADER",
    "ApiKeyAuthentication",
    "ApiProblemMiddleware",
    "BoundedJSONParser",
    "ComponentStatus",
    "HasScope",
    "HealthApi",
    "NulQueryMiddleware",
    "PagePagination",
    "PartnerApi",
    "PartnerClientRateThrottle",
    "PartnerPrincipal",
    "ProblemCode",
    "ProblemOutput",
    "ProblemResponse",
    "RequestIdMiddleware",
    "ServerErrorProblemOutput",
    "ValidationProblemOutput",
    "api_not_found",
    "exception_handler",
    "json_depth",
    "problem",
    "problem_response_for_status",
    "problem_responses",
    "server_error_problem",
]
