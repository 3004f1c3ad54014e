"""State changes of the gate: partner clients and their keys, idempotency records, roles."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .actors import Actor
from .audit import audit_changes, audit_record
from .crypto import codec
from .errors import IdempotencyKeyReused, RequestInProgress, ValidationFailed
from .models import IdempotencyKey, PartnerClient, PartnerClientKey
from .scopes import SCOPES

# --- Partner clients ---------------------------------------------------------------------


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationFailed(
            {"scopes": [_("Unknown scope: %(scope)s") % {"scope": scope} for scope in unknown]},
            detail=_("Known scopes: %(scopes)s") % {"scopes": ", ".join(SCOPES)},
        )
    return [scope for scope in SCOPES if scope in scopes]


_CLIENT_FIELDS = ("name", "scopes", "store_code", "active", "notes")


def _client_snapshot(client: PartnerClient) -> dict:
    return {field: getattr(client, field) for field in _CLIENT_FIELDS}


def _duplicate_name(name: str) -> ValidationFailed:
    return ValidationFailed(
        {"name": [_("A partner client named %(name)s already exists.") % {"name": name}]}
    )


@transaction.atomic
def partner_client_create(
    *,
    name: str,
    scopes: list[str],
    store_code: str = "",
    notes: str = "",
    active: bool = True,
    actor: Actor | None = None,
) -> PartnerClient:
    """Register a partner client (no key yet: see `partner_key_issue`). The unique name
    constraint decides between two racing registrations of one name. Writes an audit
    event with the actor (the system when none is given: CLI, demo)."""
    actor = actor or Actor.system()
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": [_("A client needs a name.")]})
    scopes = _clean_scopes(scopes)
    try:
        with transaction.atomic():
            client = PartnerClient.objects.create(
                name=name,
                scopes=scopes,
                store_code=store_code.strip(),
                notes=notes,
                active=active,
            )
    except IntegrityError:
        raise _duplicate_name(name) from None
    audit_record(
        subject=client,
        action="create",
        actor=actor,
        changes=audit_changes({}, _client_snapshot(client)),
    )
    return client


@transaction.atomic
def partner_client_update(
    *,
    client: PartnerClient,
    name: str,
    scopes: list[str],
    store_code: str = "",
    active: bool = True,
    notes: str = "",
    actor: Actor,
) -> PartnerClient:
    """Change a partner client's name, scopes, store binding, active flag or notes.
    Locks the client row; the same rules as `partner_client_create`; writes an audit
    event naming the changed fields (nothing when nothing changed)."""
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": [_("A client needs a name.")]})
    scopes = _clean_scopes(scopes)
    locked = PartnerClient.objects.select_for_update().get(pk=client.pk)
    before = _client_snapshot(locked)
    locked.name = name
    locked.scopes = scopes
    locked.store_code = store_code.strip()
    locked.active = active
    locked.notes = notes
    changes = audit_changes(before, _client_snapshot(locked))
    if not changes:
        return locked
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError:
        raise _duplicate_name(name) from None
    audit_record(subject=locked, action="update", actor=actor, changes=changes)
    return locked


@transaction.atomic
def partner_key_issue(
    *,
    client: PartnerClient,
    name: str = "",
    expiry_date: datetime | None = None,
    actor: Actor | None = None,
) -> tuple[PartnerClientKey, str]:
    """Issue a new key for a client. The plaintext key is returned once and stored only
    hashed; show it to the operator and forget it. The audit event names the key's
    prefix, never the key."""
    label = (name or f"{client.name} {timezone.localdate():%Y-%m-%d}")[:50]
    key, raw_key = PartnerClientKey.objects.create_key(
        client=client, name=label, expiry_date=expiry_date
    )
    audit_record(
        subject=client,
        action="issue_key",
        actor=actor or Actor.system(),
        changes={"key": {"from": None, "to": key.prefix}},
    )
    return key, raw_key


@transaction.atomic
def partner_keys_revoke(*, client: PartnerClient, actor: Actor | None = None) -> int:
    """Revoke every key of a client (cannot be undone). Returns how many were live."""
    count = PartnerClientKey.objects.filter(client=client, revoked=False).update(revoked=True)
    if count:
        audit_record(
            subject=client,
            action="revoke_keys",
            actor=actor or Actor.system(),
            changes={"revoked_keys": {"from": None, "to": count}},
        )
    return count


@transaction.atomic
def partner_client_delete(*, client: PartnerClient, actor: Actor) -> None:
    """Delete a partner client with its keys and idempotency records (its history rows
    keep their labels). Audited."""
    audit_record(subject=client, action="delete", actor=actor)
    client.delete()


# --- Idempotency -------------------------------------------------------------------------


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

    The record is committed before the operation runs, so concurrent requests with the
    same key see it: the unique (client, key) constraint lets exactly one insert win.
    An in-progress record is a lease of `IDEMPOTENCY_LEASE_SECONDS` (longer than the
    web server's request timeout): past it, the request that held it is dead and a retry
    takes the key over instead of answering `request_in_progress` until the key expires.
    """
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    client=client, key=key, fingerprint=fingerprint, expires_at=now + ttl
                )
            return record, None
        except IntegrityError:
            pass
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


def idempotency_complete(
    *, record: IdempotencyKey, status: int, content_type: str, body: bytes
) -> None:
    """Store the finished response (encrypted) so a retry replays it."""
    sealed = codec().encrypt(body.decode("utf-8"), aad=_idempotency_aad(record))
    IdempotencyKey.objects.filter(pk=record.pk).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=status,
        response_content_type=content_type,
        response_body=sealed,
    )


def idempotency_release(*, record: IdempotencyKey) -> None:
    """Free the key after a 5xx or 429, so the client may retry with it."""
    IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_reencrypt(*, chunk_size: int = 1000) -> Iterator[int]:
    """Re-seal stored responses under the newest key. Yields per chunk; re-runnable."""
    from .crypto import key_id_of

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


# --- Roles -------------------------------------------------------------------------------


@transaction.atomic
def roles_sync() -> None:
    """Create the role groups and set each one's permissions exactly (see `roles.py`)."""
    from django.contrib.auth.models import Group

    from .roles import ROLES, role_permission_ids

    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role.name)
        group.permissions.set(role_permission_ids(role))
