"""The base of every partner API view: scopes, input validation, idempotent POSTs."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from psycopg.pq import TransactionStatus
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from ..core.actors import Actor
from ..core.errors import ValidationFailed
from ..core.text import IDENTIFIER_MESSAGE, is_identifier_safe
from ..models import IdempotencyKey, PartnerClient
from ..services import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_fingerprint,
    idempotency_release,
)
from .authentication import PartnerPrincipal

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


class _Replay(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        self.stored = stored


class PartnerApi(APIView):
    """Set `required_scope` (or override `get_required_scopes`). Views call `validate()`,
    then one service, then render. POSTs honour `Idempotency-Key` (API.md)."""

    required_scope: str | None = None
    _idempotency_record: IdempotencyKey | None = None

    def get_required_scopes(self, request: Request) -> tuple[str, ...]:
        return (self.required_scope,) if self.required_scope else ()

    @property
    def client(self) -> PartnerClient:
        principal = self.request.user
        assert isinstance(principal, PartnerPrincipal)
        return principal.client

    @property
    def actor(self) -> Actor:
        return Actor.for_partner(self.client, self.request)

    def validate(self, serializer_class: type[serializers.Serializer], data: Any) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    # --- idempotency ---------------------------------------------------------------------
    def dispatch(self, request, *args: Any, **kwargs: Any):
        """A POST with an `Idempotency-Key` runs in one transaction: the key's record, the
        operation's rows and the stored answer commit together (one commit instead of
        three), and a request that dies leaves neither a half-done operation nor a key
        stuck in progress. Services' own atomic blocks become savepoints inside it."""
        if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method != "POST":
            return
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return
        if not 1 <= len(key) <= 255:
            raise ValidationFailed(
                {IDEMPOTENCY_HEADER: [_("Must be between 1 and 255 characters.")]},
            )
        if not is_identifier_safe(key):
            raise ValidationFailed({IDEMPOTENCY_HEADER: [str(IDENTIFIER_MESSAGE)]})
        fingerprint = idempotency_fingerprint(
            method=request.method, path=request.path, body=request.data
        )
        record, stored = idempotency_begin(client=self.client, key=key, fingerprint=fingerprint)
        if stored is not None:
            raise _Replay(stored)
        self._idempotency_record = record

    def handle_exception(self, exc: Exception):
        if isinstance(exc, _Replay):
            response = HttpResponse(
                exc.stored.body, status=exc.stored.status, content_type=exc.stored.content_type
            )
            response[REPLAY_HEADER] = "true"
            # A replayed claim or reveal carries a code, like the first answer did.
            response["Cache-Control"] = "no-store"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        if record is None:
            return response
        if response.status_code >= 500 or _transaction_broken():
            # Nothing of this request is kept, the key included: the client may retry.
            transaction.set_rollback(True)
            return response
        if response.status_code == 429:
            # Refused for its rate: what the refusal recorded stays, the key is freed.
            idempotency_release(record=record)
            return response
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        idempotency_complete(
            record=record,
            status=response.status_code,
            content_type=response.get("Content-Type", "application/json"),
            body=response.content,
        )
        return response


def _transaction_broken() -> bool:
    """Whether the request's transaction can no longer run statements (an error that no
    savepoint caught)."""
    if connection.needs_rollback:
        return True
    if connection.vendor == "postgresql" and connection.connection is not None:
        return connection.connection.info.transaction_status == TransactionStatus.INERROR
    return False
