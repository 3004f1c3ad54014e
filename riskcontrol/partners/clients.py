"""Partner clients and their API keys: register, update, issue and revoke keys, delete.
Every change writes an audit event with the actor."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..core.actors import Actor
from ..core.audit import audit_changes, audit_record
from ..core.errors import ValidationFailed
from ..models import PartnerClient, PartnerClientKey
from .scopes import SCOPES


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
