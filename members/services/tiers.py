"""Tiers follow growth value, never the points balance.

Qualifying growth is the growth a member gained over the policy's last
`qualifying_months` (refunds count negative). When it reaches a higher tier's threshold
the member moves up at once, several tiers in one step when earned, and holds the new
tier for `hold_months` (`tier_held_until`). A refund lowers growth but never the tier
before that review. Every change writes a `TierChange`.

The review (`tiers_review`, from beat and `manage.py tiers_review`) looks at members
whose hold or manual tier has ended:

- a manual tier that ended (`tier_manual_until` <= now) gives way to the tier growth
  earns (`manual_ended`), whether higher or lower; a manual tier is never a floor;
- a hold that ended is reviewed per `TierPolicy.downgrade`: the tier is kept when
  qualifying growth reaches its `retention` (its `threshold` when retention is empty);
  otherwise `one_step` lowers it by one rank, `to_earned` to the tier growth earns (at
  least one rank), `never` keeps it;
- after every review that keeps or lowers a tier (and after a manual tier ends) a new
  hold of `hold_months` starts at the review; the lowest tier is never held (there is
  nothing below it), so its members leave the review until growth lifts them again.

After a threshold or retention change every member is re-evaluated (`everyone=True`):
a member whose growth now reaches a higher tier moves up at once (`thresholds`); a
raised threshold lowers nobody at once — the hold protects the tier, and the member's
next review applies the new retention.

Writers hold the member's row lock (`select_for_update`) while they change a tier:
`member_tier_evaluate` takes the locked row from its caller; `member_tier_set` and
`tiers_review` take the locks themselves, in primary-key order.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from ..hooks import announce_tier_upgrade
from ..models import GrowthEntry, Member, MemberEvent, Tier, TierChange, TierPolicy

_TIER_FIELDS = ["tier", "tier_since", "tier_held_until", "tier_manual_until"]


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """`moment` moved by whole calendar months (negative: back), the day clamped to the
    target month's length (Jan 31 + 1 month = Feb 28/29)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def qualifying_growth(*, member_id: int, now: dt.datetime, policy: TierPolicy | None = None) -> int:
    """Growth gained in the policy's qualifying window ending at `now`."""
    policy = policy or TierPolicy.current()
    since = add_months(now, -policy.qualifying_months)
    total = GrowthEntry.objects.filter(
        member_id=member_id, occurred_at__gt=since, occurred_at__lte=now
    ).aggregate(total=Sum("amount"))["total"]
    return max(total or 0, 0)


def qualifying_growth_many(
    *, member_ids: list[int], now: dt.datetime, policy: TierPolicy
) -> dict[int, int]:
    """`qualifying_growth` for many members in one GROUP BY (absent members: 0)."""
    since = add_months(now, -policy.qualifying_months)
    rows = (
        GrowthEntry.objects.filter(
            member_id__in=member_ids, occurred_at__gt=since, occurred_at__lte=now
        )
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("member_id", "total")
    )
    return {member_id: max(total or 0, 0) for member_id, total in rows}


def tier_earned(growth: int) -> Tier | None:
    """The highest tier whose threshold `growth` reaches (None when there are no tiers)."""
    return Tier.objects.filter(threshold__lte=growth).order_by("-rank").first()


def member_tier_evaluate(
    *,
    member: Member,
    now: dt.datetime,
    actor: Actor,
    event: MemberEvent | None = None,
    policy: TierPolicy | None = None,
    growth_ceiling: int | None = None,
) -> tuple[str | None, str | None]:
    """Move the (locked) member up to the tier its qualifying growth has earned, if that
    is higher than the tier held; never down (a refund waits for the review). Growth
    lifts a member above a manual tier too, which ends the manual period. Returns the
    tier codes before and after.

    `growth_ceiling`, when the caller knows one, is an upper bound of the qualifying
    growth (the member's all-time growth value, this event included): when even that
    does not reach the next tier up, nothing can change and one query decides it."""
    before = member.tier
    if growth_ceiling is not None:
        higher = Tier.objects.filter(threshold__lte=growth_ceiling)
        if before is not None:
            higher = higher.filter(rank__gt=before.rank)
        if not higher.exists():
            return _code(before), _code(before)
    policy = policy or TierPolicy.current()
    earned = tier_earned(qualifying_growth(member_id=member.pk, now=now, policy=policy))
    if earned is None or (before is not None and earned.rank <= before.rank):
        return _code(before), _code(before)
    member.tier = earned
    member.tier_since = now
    member.tier_held_until = add_months(now, policy.hold_months)
    member.tier_manual_until = None
    member.save(update_fields=_TIER_FIELDS)
    change = TierChange.objects.create(
        member=member,
        from_tier=before,
        to_tier=earned,
        reason=TierChange.Reason.UPGRADE,
        event=event,
        **TierChange.actor_stamp(actor),
    )
    announce_tier_upgrade(change)  # after commit: the apps that act on upgrades (hooks)
    return _code(before), earned.code


@transaction.atomic
def member_tier_set(
    *,
    member: Member,
    tier: Tier,
    until: dt.datetime,
    reason: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Member:
    """An operator sets the member's tier by hand until `until`, with a reason (a
    `manual` TierChange). At `until` the review returns the member to the tier growth
    earns (`manual_ended`); before that, growth may still lift the member above it.
    Locks the member row; returns the locked, updated member."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why the tier is set by hand.")]
    elif len(reason) > 200:
        errors["reason"] = [_("Keep the reason under 200 characters.")]
    if until is None:
        errors["until"] = [_("Choose the date the manual tier ends.")]
    elif until <= now:
        errors["until"] = [_("The end of a manual tier must be in the future.")]
    if tier is None or not Tier.objects.filter(pk=tier.pk).exists():
        errors["tier"] = [_("Choose an existing tier.")]
    if errors:
        raise ValidationFailed(errors)
    locked = Member.objects.select_for_update(of=("self",)).select_related("tier").get(pk=member.pk)
    before = locked.tier
    locked.tier = tier
    locked.tier_since = now
    locked.tier_manual_until = until
    locked.save(update_fields=[*_TIER_FIELDS, "updated_at"])
    TierChange.objects.create(
        member=locked,
        from_tier=before,
        to_tier=tier,
        reason=TierChange.Reason.MANUAL,
        note=reason,
        **TierChange.actor_stamp(actor, extra={"until": until.isoformat()}),
    )
    return locked


def member_tier_record_partner(
    *, member: Member, before: Tier | None, now: dt.datetime, actor: Actor
) -> None:
    """A partner (or the member form) set the tier directly through `member_upsert`: the
    (locked) member holds it like a reached tier and the change is recorded. Called only
    when the tier changed."""
    policy = TierPolicy.current()
    member.tier_since = now
    member.tier_held_until = add_months(now, policy.hold_months) if member.tier_id else None
    member.tier_manual_until = None
    TierChange.objects.create(
        member=member,
        from_tier=before,
        to_tier=member.tier,
        reason=(TierChange.Reason.PARTNER if actor.kind == "partner" else TierChange.Reason.MANUAL),
        **TierChange.actor_stamp(actor),
    )


@dataclass
class ReviewResult:
    reviewed: int = 0
    changed: int = 0


def tiers_review(
    *,
    now: dt.datetime | None = None,
    chunk: int = 1000,
    everyone: bool = False,
    actor: Actor | None = None,
) -> ReviewResult:
    """Review the members whose hold or manual tier has ended by `now` (or, with
    `everyone`, after a threshold change, every member), `chunk` members per short
    transaction. Candidates are chosen by SQL; each chunk locks its rows in key order,
    re-checks them, sums their qualifying growth in one query and writes the changed
    members and their TierChange rows in bulk. Running it again changes nothing."""
    now = now or timezone.now()
    actor = actor or Actor.system("tiers_review")
    result = ReviewResult()
    candidates = Member.objects.all()
    if not everyone:
        candidates = candidates.filter(Q(tier_held_until__lte=now) | Q(tier_manual_until__lte=now))
    last_pk = 0
    while True:
        ids = list(
            candidates.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return result
        last_pk = ids[-1]
        with transaction.atomic():
            changed = _review_chunk(
                candidates.filter(pk__in=ids), now=now, everyone=everyone, actor=actor
            )
        result.reviewed += len(ids)
        result.changed += changed


def _review_chunk(members_qs, *, now: dt.datetime, everyone: bool, actor: Actor) -> int:
    policy = TierPolicy.current()
    tiers = list(Tier.objects.order_by("rank"))
    by_id = {tier.pk: tier for tier in tiers}
    members = list(members_qs.select_for_update(of=("self",)).order_by("pk"))
    growth = qualifying_growth_many(
        member_ids=[member.pk for member in members], now=now, policy=policy
    )
    to_save: list[Member] = []
    changes: list[TierChange] = []
    for member in members:
        before = by_id.get(member.tier_id)
        decision = _decide(
            member,
            current=before,
            growth=growth.get(member.pk, 0),
            tiers=tiers,
            policy=policy,
            now=now,
            everyone=everyone,
        )
        if decision is None:
            continue
        target, reason = decision
        if target != before:
            member.tier = target
            member.tier_since = now
            changes.append(
                TierChange(
                    member=member,
                    from_tier=before,
                    to_tier=target,
                    reason=reason,
                    **TierChange.actor_stamp(actor),
                )
            )
        lowest = tiers[0] if tiers else None
        member.tier_held_until = (
            None
            if member.tier_id is None or member.tier_id == getattr(lowest, "pk", None)
            else add_months(now, policy.hold_months)
        )
        to_save.append(member)
    if to_save:
        Member.objects.bulk_update(to_save, _TIER_FIELDS)
    if changes:
        TierChange.objects.bulk_create(changes)
        announce_tier_upgrade(changes)  # the upgrades among them, after the chunk commits
    return len(changes)


def _decide(
    member: Member,
    *,
    current: Tier | None,
    growth: int,
    tiers: list[Tier],
    policy: TierPolicy,
    now: dt.datetime,
    everyone: bool,
) -> tuple[Tier | None, str] | None:
    """What the review does with one locked member: None (leave it alone), or the tier
    it ends on and why (the tier may be unchanged: a kept tier gets a new hold)."""
    if not tiers:
        return None
    earned = _earned(tiers, growth)
    manual_until = member.tier_manual_until
    if manual_until is not None and manual_until <= now:
        member.tier_manual_until = None
        return earned, TierChange.Reason.MANUAL_ENDED
    if earned is not None and (current is None or earned.rank > current.rank):
        member.tier_manual_until = None
        reason = TierChange.Reason.THRESHOLDS if everyone else TierChange.Reason.UPGRADE
        return earned, reason
    if manual_until is not None or current is None:
        return None  # a manual tier in force: only growth above it changes it
    held_until = member.tier_held_until
    if held_until is None or held_until > now:
        return None
    keep_at = current.retention if current.retention is not None else current.threshold
    lower = [tier for tier in tiers if tier.rank < current.rank]
    if growth >= keep_at or not lower or policy.downgrade == TierPolicy.Downgrade.NEVER:
        return current, TierChange.Reason.REVIEW
    if policy.downgrade == TierPolicy.Downgrade.TO_EARNED:
        if earned is None:
            return lower[0], TierChange.Reason.REVIEW
        if earned.rank < current.rank:
            return earned, TierChange.Reason.REVIEW
    return lower[-1], TierChange.Reason.REVIEW


def _earned(tiers: list[Tier], growth: int) -> Tier | None:
    reached = [tier for tier in tiers if tier.threshold <= growth]
    return reached[-1] if reached else None


def _code(tier: Tier | None) -> str | None:
    return tier.code if tier is not None else None
