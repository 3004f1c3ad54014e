"""Console writes on the member program's tiers and tags (the levels members hold and
the labels they carry), its earning rules and its tier policy. Members themselves are
written by `services.member_upsert`.

A tier's or tag's code is fixed once created: partner systems send it (`tier`, `tags` in
`POST /api/v1/members`). Every write records an audit event with the actor.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import ValidationFailed

from .ladder import Step, ladder_breaks, retention_too_high
from .models import EarningRule, MemberEvent, Tag, Tier, TierPolicy
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
    """Add a tier (code and rank are unique; thresholds rise with rank). Audited."""
    _check_ladder(tier_pk=None, rank=rank, threshold=threshold or 0, retention=retention)
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
    _check_ladder(
        tier_pk=tier.pk,
        rank=rank,
        threshold=tier.threshold if threshold is None else threshold,
        retention=retention,
    )
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


def _check_ladder(*, tier_pk: int | None, rank: int, threshold: int, retention) -> None:
    """Check the ladder under the ladder lock (the tier policy's row, which every tier
    write takes first), so two concurrent edits cannot each pass against the other's
    old threshold."""
    TierPolicy.current()
    TierPolicy.objects.select_for_update().filter(pk=1).first()
    errors = tier_threshold_errors(
        tier_pk=tier_pk, rank=rank, threshold=threshold, retention=retention
    )
    if errors:
        raise ValidationFailed(errors)


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


# --- Tier thresholds -------------------------------------------------------------------


def tier_threshold_errors(
    *, tier_pk: int | None, rank: int, threshold: int, retention: int | None
) -> dict[str, list[str]]:
    """What is wrong with a tier's threshold and retention next to the other tiers, as
    field errors (empty when nothing is). The rule is `ladder.ladder_breaks`; only the
    breaks that involve this tier are its errors, the first one worded."""
    others = {tier.code: tier for tier in Tier.objects.exclude(pk=tier_pk)}
    this = Step(code="", rank=rank, threshold=threshold)  # "" is never a tier's code
    ladder = [this, *(Step(t.code, t.rank, t.threshold) for t in others.values())]
    errors: dict[str, list[str]] = {}
    for found in ladder_breaks(ladder):
        if found.kind == "lowest_not_zero" and found.code == "":
            message = _(
                "The lowest tier starts at 0: every member reaches it, so its threshold is 0."
            )
        elif found.kind == "not_rising" and found.code == "":
            below = others[found.other.code]
            message = _(
                "Thresholds rise with rank: this tier must need more than "
                "%(below)s (%(threshold)s)."
            ) % {"below": below.name, "threshold": f"{below.threshold:,}"}
        elif found.kind == "not_rising" and found.other == this:
            above = others[found.code]
            message = _(
                "Thresholds rise with rank: this tier must need less than "
                "%(above)s (%(threshold)s)."
            ) % {"above": above.name, "threshold": f"{above.threshold:,}"}
        else:
            continue
        errors["threshold"] = [message]
        break
    if retention_too_high(threshold, retention):
        errors["retention"] = [
            _("The growth value that keeps a tier cannot be more than its threshold.")
        ]
    return errors


# --- Earning rules ---------------------------------------------------------------------

_RULE_FIELDS = (
    "code",
    "name",
    "event",
    "points",
    "points_per_yuan",
    "growth",
    "growth_per_yuan",
    "tier_multipliers",
    "daily_cap",
    "points_valid_months",
    "points_pending_days",
    "active",
)
_CUSTOM_KIND = re.compile(r"^custom\.[a-z0-9_]{1,57}$")


def event_kind_is_known(kind: str) -> bool:
    """A kind the events API accepts: one of MemberEvent.Kind or `custom.<name>`."""
    return kind in MemberEvent.Kind.values or bool(_CUSTOM_KIND.match(kind))


def _multipliers(raw: object, errors: dict[str, list[str]]) -> dict[str, str]:
    """`{tier code: positive decimal}` with the decimals as strings; errors otherwise."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        errors["tier_multipliers"] = [
            _('Write the multipliers as tier code and number pairs, e.g. {"gold": "1.5"}.')
        ]
        return {}
    known = set(Tier.objects.filter(code__in=list(raw)).values_list("code", flat=True))
    problems: list[str] = []
    result: dict[str, str] = {}
    for code, value in raw.items():
        if code not in known:
            problems.append(_("There is no tier with the code “%(code)s”.") % {"code": code})
            continue
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            number = None
        if isinstance(value, bool) or number is None or not number.is_finite() or number <= 0:
            problems.append(
                _("The multiplier for “%(code)s” must be a number above 0, such as 1.5.")
                % {"code": code}
            )
            continue
        result[code] = str(number)
    if problems:
        errors["tier_multipliers"] = problems
    return result


def earning_rule_clean(data: dict) -> dict:
    """The rule's fields checked and normalised; `ValidationFailed` with a plain sentence
    per field otherwise: a known event kind, points one way (per event or per yuan),
    growth one way, something earned, multipliers keyed by existing tier codes with
    positive numbers."""
    errors: dict[str, list[str]] = {}
    cleaned = {key: data.get(key) for key in _RULE_FIELDS if key in data}
    event = (cleaned.get("event") or "").strip()
    cleaned["event"] = event
    if not event_kind_is_known(event):
        errors["event"] = [
            _(
                "Unknown event kind. Use one of: %(kinds)s, or custom.<name> "
                "(lower-case letters, digits and _)."
            )
            % {"kinds": ", ".join(MemberEvent.Kind.values)}
        ]
    for each, per_yuan, message in (
        (
            "points",
            "points_per_yuan",
            _("Give points per event or points per yuan, not both."),
        ),
        (
            "growth",
            "growth_per_yuan",
            _("Give growth value per event or growth value per yuan, not both."),
        ),
    ):
        if cleaned.get(each) is not None and cleaned.get(per_yuan) is not None:
            errors[per_yuan] = [message]
        value = cleaned.get(per_yuan)
        if value is not None and Decimal(str(value)) <= 0:
            errors.setdefault(per_yuan, []).append(_("Must be more than 0."))
    if all(
        cleaned.get(key) is None
        for key in ("points", "points_per_yuan", "growth", "growth_per_yuan")
    ):
        errors.setdefault("points", []).append(
            _("The rule earns nothing: give points or growth value, per event or per yuan.")
        )
    cleaned["tier_multipliers"] = _multipliers(cleaned.get("tier_multipliers"), errors)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _rule_snapshot(rule: EarningRule) -> dict:
    return {field: getattr(rule, field) for field in _RULE_FIELDS}


def _rule_save(rule: EarningRule, *, before: dict, actor: Actor) -> None:
    changes = audit_changes(before, _rule_snapshot(rule))
    if before and not changes:
        return
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationFailed({"code": [_("This code is already in use.")]}) from None
    audit_record(
        subject=rule,
        action="update" if before else "create",
        actor=actor,
        changes=changes,
        label=rule.code,
    )


@transaction.atomic
def earning_rule_create(*, code: str, actor: Actor, **fields) -> EarningRule:
    """Add an earning rule (unique code), checked by `earning_rule_clean`. Audited."""
    cleaned = earning_rule_clean({**fields, "code": code.strip()})
    rule = EarningRule(**cleaned)
    _rule_save(rule, before={}, actor=actor)
    return rule


@transaction.atomic
def earning_rule_update(*, rule: EarningRule, actor: Actor, **fields) -> EarningRule:
    """Change an earning rule (not its code). Locks the row; audited when it changed.
    Events already received keep what they earned."""
    locked = EarningRule.objects.select_for_update().get(pk=rule.pk)
    before = _rule_snapshot(locked)
    cleaned = earning_rule_clean({**_rule_snapshot(locked), **fields, "code": locked.code})
    for field, value in cleaned.items():
        setattr(locked, field, value)
    _rule_save(locked, before=before, actor=actor)
    return locked


@transaction.atomic
def earning_rule_delete(*, earningrule: EarningRule, actor: Actor) -> None:
    """Delete an earning rule; points it gave stay in the ledger. Audited."""
    audit_record(subject=earningrule, action="delete", actor=actor, label=earningrule.code)
    earningrule.delete()


# --- Tier policy -----------------------------------------------------------------------

_POLICY_FIELDS = ("qualifying_months", "hold_months", "downgrade")


@transaction.atomic
def tier_policy_update(
    *, qualifying_months: int, hold_months: int, downgrade: str, actor: Actor
) -> TierPolicy:
    """Change the one tier policy row (created when missing). Locks it; audited when it
    changed. A new qualifying window changes every member's qualifying growth, so every
    member is re-evaluated once this commits (as after a threshold change)."""
    errors: dict[str, list[str]] = {}
    if qualifying_months < 1:
        errors["qualifying_months"] = [_("Growth value must count for at least 1 month.")]
    if downgrade not in TierPolicy.Downgrade.values:
        errors["downgrade"] = [_("Choose one of the downgrade rules.")]
    if errors:
        raise ValidationFailed(errors)
    TierPolicy.current()
    policy = TierPolicy.objects.select_for_update().get(pk=1)
    before = {field: getattr(policy, field) for field in _POLICY_FIELDS}
    policy.qualifying_months, policy.hold_months = qualifying_months, hold_months
    policy.downgrade = downgrade
    changes = audit_changes(before, {field: getattr(policy, field) for field in _POLICY_FIELDS})
    if changes:
        policy.save()
        audit_record(subject=policy, action="update", actor=actor, changes=changes, label="1")
    if "qualifying_months" in changes:
        _review_after_commit()
    return policy
