"""Idempotency keys of the partner API: claim a key, store the (encrypted) response,
replay it, release it after a failure, re-seal stored responses, purge expired ones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..core.errors import IdempotencyKeyReused, RequestInProgress
from ..crypto import codec, key_id_of
from ..models import IdempotencyKey, PartnerClient


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


def _idempotency_aad(record: IdempotencyKey) -> bytes:
    return f"idempotency:{record.client_id}:{record.key}".encode()


def idempotency_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).hexdigest()


def idempotency_begin(
    *, client: PartnerClient, key: str, fingerprint: str
) -> tuple[IdempotencyKey | None, StoredResponse | None]:
    """Claim `key` for this request, or say what to answer instead.

    Returns (record, None) when the caller should run the operation and then call
    `idempotency_complete` or `idempotency_release`; (None, stored) to replay a finished
    response. Raises `IdempotencyKeyReused` (other fingerprint) or `RequestInProgress`.

    The partner API calls this inside the request's transaction, which also holds the
    operation and the stored answer: the record, the operation's rows and the answer
    commit together or not at all, and a request that dies leaves nothing behind. A
    concurrent request with the same key must not wait for that transaction: on
    PostgreSQL the claim takes a transaction-level advisory lock on (client, key) in the
    same statement as the insert, and a request that finds it held answers
    `request_in_progress` at once. Elsewhere (SQLite: one writer at a time) the unique
    (client, key) constraint decides.

    A record committed while still in progress (a caller outside a transaction) is a
    lease of `IDEMPOTENCY_LEASE_SECONDS`: past it, the request that held it is dead and
    a retry takes the key over instead of answering `request_in_progress` until the key
    expires.
    """
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    for _attempt in range(3):
        now = timezone.now()
        record = _claim(client=client, key=key, fingerprint=fingerprint, now=now, ttl=ttl)
        if record is not None:
            return record, None
        existing = IdempotencyKey.objects.filter(client=client, key=key).first()
        if existing is None:
            continue  # released by a failed first attempt in the meantime
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyKey.State.IN_PROGRESS:
            if existing.created_at > now - lease:
                raise RequestInProgress()
            # The lease lapsed: the web process that held it died (killed at the request
            # timeout). Drop the record, conditionally, so one retry takes the key over.
            IdempotencyKey.objects.filter(
                pk=existing.pk,
                state=IdempotencyKey.State.IN_PROGRESS,
                created_at__lte=now - lease,
            ).delete()
            continue
        body = codec().decrypt(existing.response_body, aad=_idempotency_aad(existing))
        return None, StoredResponse(
            status=existing.response_status,
            content_type=existing.response_content_type,
            body=body.encode("utf-8"),
        )
    raise RequestInProgress()


def _advisory_key(client_id: int, key: str) -> int:
    """A signed 64-bit advisory lock key for (client, key)."""
    digest = hashlib.blake2b(f"idempotency:{client_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_CLAIM_SQL = """
WITH lock AS (SELECT pg_try_advisory_xact_lock(%s) AS got),
claimed AS (
    INSERT INTO {table}
        (client_id, key, fingerprint, state, response_content_type, created_at, expires_at)
    SELECT %s, %s, %s, %s, '', %s, %s FROM lock WHERE lock.got
    ON CONFLICT (client_id, key) DO NOTHING
    RETURNING id
)
SELECT lock.got, (SELECT id FROM claimed) FROM lock
"""


def _claim(
    *, client: PartnerClient, key: str, fingerprint: str, now: datetime, ttl: timedelta
) -> IdempotencyKey | None:
    """Insert the in-progress record; None when a committed record holds the key.
    Raises `RequestInProgress` when a running transaction holds it (PostgreSQL)."""
    record = IdempotencyKey(
        client=client,
        key=key,
        fingerprint=fingerprint,
        state=IdempotencyKey.State.IN_PROGRESS,
        created_at=now,
        expires_at=now + ttl,
    )
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                record.save(force_insert=True)
        except IntegrityError:
            return None
        return record
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(table=IdempotencyKey._meta.db_table),
            [
                _advisory_key(client.pk, key),
                client.pk,
                key,
                fingerprint,
                record.state,
                now,
                record.expires_at,
            ],
        )
        got, pk = cursor.fetchone()
    if not got:
        raise RequestInProgress()
    if pk is None:
        return None
    record.pk = pk
    return record


def idempotency_complete(
    *, record: IdempotencyKey, status: int, content_type: str, body: bytes
) -> None:
    """Store the finished response (encrypted) so a retry replays it."""
    sealed = codec().encrypt(body.decode("utf-8"), aad=_idempotency_aad(record))
    # Every idempotent POST ends here: a plain statement, not an ORM update.
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPLETE_SQL.format(table=IdempotencyKey._meta.db_table),
            [IdempotencyKey.State.COMPLETED.value, status, content_type, sealed, record.pk],
        )


_COMPLETE_SQL = (
    "UPDATE {table} SET state = %s, response_status = %s, response_content_type = %s,"
    " response_body = %s WHERE id = %s"
)


def idempotency_release(*, record: IdempotencyKey) -> None:
    """Free the key after a 5xx or 429, so the client may retry with it."""
    IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_reencrypt(*, chunk_size: int = 1000) -> Iterator[int]:
    """Re-seal stored responses under the newest key. Yields per chunk; re-runnable."""
    sealer = codec()
    last_pk = 0
    while True:
        with transaction.atomic():
            records = list(
                IdempotencyKey.objects.select_for_update()
                .filter(pk__gt=last_pk, state=IdempotencyKey.State.COMPLETED)
                .order_by("pk")[:chunk_size]
            )
            stale = [r for r in records if key_id_of(r.response_body) != sealer.current_key_id]
            for record in stale:
                body = sealer.decrypt(record.response_body, aad=_idempotency_aad(record))
                record.response_body = sealer.encrypt(body, aad=_idempotency_aad(record))
            IdempotencyKey.objects.bulk_update(stale, ["response_body"])
        if not records:
            return
        last_pk = records[-1].pk
        yield len(stale)


def idempotency_stale_count(*, key_id: str) -> int:
    """How many stored responses are still sealed under a key other than `key_id` (the
    key id sits inside each sealed body, so this reads them in chunks)."""
    bodies = IdempotencyKey.objects.filter(state=IdempotencyKey.State.COMPLETED).values_list(
        "response_body", flat=True
    )
    return sum(1 for body in bodies.iterator(chunk_size=2000) if key_id_of(body) != key_id)


def idempotency_purge_expired(*, now: datetime | None = None, chunk_size: int = 5000) -> int:
    """Delete expired idempotency records in chunks (short transactions). Returns count."""
    now = now or timezone.now()
    total = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[
                :chunk_size
            ]
        )
        if not ids:
            return total
        deleted, _details = IdempotencyKey.objects.filter(pk__in=ids, expires_at__lte=now).delete()
        total += deleted
