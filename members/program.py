"""Console writes on the member program's tiers and tags (the levels members hold and
the labels they carry). Members themselves are written by `services.member_upsert`.

A tier's or tag's code is fixed once created: partner systems send it (`tier`, `tags` in
`POST /api/v1/members`). Every write records an audit event with the actor.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import ValidationFailed

from .models import Tag, Tier
from .tasks import tiers_review_task

logger = logging.getLogger(__name__)

_TIER_FIELDS = ("code", "name", "rank", "threshold", "retention", "description")
_TAG_FIELDS = ("code", "name")


def _snapshot(obj: Tier | Tag, fields: tuple[str, ...]) -> dict:
    return {field: getattr(obj, field) for field in fields}


def _require_name(name: str) -> str:
    if not name.strip():
        raise ValidationFailed({"name": [_("This field is required.")]})
    return name.strip()


def _save(obj: Tier | Tag, *, before: dict, fields: tuple[str, ...], actor: Actor) -> None:
    changes = audit_changes(before, _snapshot(obj, fields))
    if before and not changes:
        return
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        if isinstance(obj, Tier) and "rank" in changes:
            raise ValidationFailed({"rank": [_("Another tier already has this rank.")]}) from None
        raise ValidationFailed({"code": [_("This code is already in use.")]}) from None
    audit_record(
        subject=obj,
        action="update" if before else "create",
        actor=actor,
        changes=changes,
        label=obj.code,
    )


@transaction.atomic
def tier_create(
    *,
    code: str,
    name: str,
    rank: int,
    threshold: int = 0,
    retention: int | None = None,
    description: str = "",
    actor: Actor,
) -> Tier:
    """Add a tier (code and rank are unique). Audited."""
    tier = Tier(
        code=code.strip(),
        name=_require_name(name),
        rank=rank,
        threshold=threshold or 0,
        retention=retention,
        description=description,
    )
    _save(tier, before={}, fields=_TIER_FIELDS, actor=actor)
    _review_after_commit()
    return tier


@transaction.atomic
def tier_update(
    *,
    tier: Tier,
    name: str,
    rank: int,
    threshold: int | None = None,
    retention: int | None = None,
    description: str = "",
    actor: Actor,
) -> Tier:
    """Rename, re-rank, re-describe or re-threshold a tier (`threshold` None keeps it).
    Locks the row; audited when it changed."""
    locked = Tier.objects.select_for_update().get(pk=tier.pk)
    before = _snapshot(locked, _TIER_FIELDS)
    locked.name, locked.rank, locked.description = _require_name(name), rank, description
    if threshold is not None:
        locked.threshold = threshold
    locked.retention = retention
    _save(locked, before=before, fields=_TIER_FIELDS, actor=actor)
    if (locked.threshold, locked.retention) != (before["threshold"], before["retention"]):
        _review_after_commit()
    return locked


def _review_after_commit() -> None:
    """Thresholds changed: every member is re-evaluated once this commits
    (members.services.tiers, `everyone=True`)."""
    transaction.on_commit(_enqueue_review)


def _enqueue_review() -> None:
    try:
        tiers_review_task.delay(everyone=True)
    except (KombuError, OSError) as error:
        # The change is saved; `manage.py tiers_review --everyone` catches up.
        logger.warning("Broker unavailable (%s): tier re-evaluation not enqueued", error)


@transaction.atomic
def tier_delete(*, tier: Tier, actor: Actor) -> None:
    """Delete a tier no member holds (the database refuses otherwise). Audited."""
    audit_record(subject=tier, action="delete", actor=actor, label=tier.code)
    tier.delete()


@transaction.atomic
def tag_create(*, code: str, name: str, actor: Actor) -> Tag:
    """Add a tag (unique code). Audited."""
    tag = Tag(code=code.strip(), name=_require_name(name))
    _save(tag, before={}, fields=_TAG_FIELDS, actor=actor)
    return tag


@transaction.atomic
def tag_update(*, tag: Tag, name: str, actor: Actor) -> Tag:
    """Rename a tag. Locks the row; audited when it changed."""
    locked = Tag.objects.select_for_update().get(pk=tag.pk)
    before = _snapshot(locked, _TAG_FIELDS)
    locked.name = _require_name(name)
    _save(locked, before=before, fields=_TAG_FIELDS, actor=actor)
    return locked


@transaction.atomic
def tag_delete(*, tag: Tag, actor: Actor) -> None:
    """Delete a tag; members simply no longer carry it. Audited."""
    audit_record(subject=tag, action="delete", actor=actor, label=tag.code)
    tag.delete()
