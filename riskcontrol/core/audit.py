"""Audit events for records without a history table of their own.

Services call `audit_record` inside their own transaction, after the change, so the
change and its record commit together. Personal data and secrets never go into
`changes` as values: pass their field names in `private` and only the fact that they
changed is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from ..models import AuditEvent
from .actors import Actor


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def audit_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, private: Iterable[str] = ()
) -> dict[str, Any]:
    """The fields whose value differs between two snapshots, as
    `{field: {"from": old, "to": new}}`; a private field is recorded as `"changed"`."""
    private = set(private)
    changes: dict[str, Any] = {}
    for field, new in after.items():
        old = before.get(field)
        if old == new or _plain(old) == _plain(new):  # 10 == 10.00; one instant, two zones
            continue
        changes[field] = "changed" if field in private else {"from": _plain(old), "to": _plain(new)}
    return changes


def audit_record(
    *,
    subject: models.Model,
    action: str,
    actor: Actor,
    changes: Mapping[str, Any] | None = None,
    label: str = "",
) -> AuditEvent:
    """Write one audit event for `subject` with the actor and its request context."""
    return AuditEvent.objects.create(
        subject=subject._meta.label_lower,
        subject_id=str(subject.pk),
        subject_label=(label or str(subject))[:200],
        action=action,
        changes=dict(changes or {}),
        **AuditEvent.actor_stamp(actor),
    )
