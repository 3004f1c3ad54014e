from __future__ import annotations

import logging

import redis
from celery import current_app
from django.conf import settings
from django.db import connection, models
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..rules.fallback import redis_timeouts
from .schema import problem_responses

logger = logging.getLogger(__name__)


class ComponentStatus(models.TextChoices):
    OK = "ok"
    UNAVAILABLE = "unavailable"


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.ChoiceField(choices=ComponentStatus.choices)
    broker = serializers.ChoiceField(choices=ComponentStatus.choices)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("Health check: database unavailable", exc_info=True)
        return False


def _broker_ok() -> bool:
    """A Redis broker answers PING within the short Redis timeouts (a hung server must
    not hold the load balancer's probe); other transports connect through kombu."""
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, **redis_timeouts())
            try:
                return bool(client.ping())
            finally:
                client.close()
        with current_app.connection_for_write(url=url) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True
    except Exception as error:
        logger.warning("Health check: broker unavailable (%s)", type(error).__name__)
        return False


class HealthApi(APIView):
    """For load balancers and monitoring: no authentication, 503 when a part is down."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        auth=[],
        summary="Service health",
        description=(
            "Whether the service can take calls now: 200 with `status: ok` when it can, "
            "503 with `status: degraded` and the part that is down when it cannot. For "
            "monitoring and load balancers; needs no key and is not rate limited."
        ),
        responses={
            200: HealthOutput,
            503: OpenApiResponse(HealthOutput, description="A part the service needs is down."),
            **problem_responses(authenticated=False),
        },
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        database = "ok" if _database_ok() else "unavailable"
        broker = "ok" if _broker_ok() else "unavailable"
        healthy = database == "ok" and broker == "ok"
        body = {"status": "ok" if healthy else "degraded", "database": database, "broker": broker}
        return Response(body, status=200 if healthy else 503)
