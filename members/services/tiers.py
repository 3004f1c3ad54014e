"""Tiers follow growth value, never the points balance.

Qualifying growth is the growth a member gained over the policy's last
`qualifying_months` (refunds count negative). When it reaches a higher tier's threshold
the member moves up at once, several tiers in one step when earned, and holds the new
tier for `hold_months`. Downgrades happen only at a review after the hold (later in this
module's life: `tiers_review`). Every change writes a `TierChange`.

Callers hold the member's row lock (`select_for_update`) and pass the locked row.
"""

from __future__ import annotations

import calendar
import datetime as dt

from django.db.models import Sum

from riskcontrol.core.actors import Actor

from ..models import GrowthEntry, Member, MemberEvent, Tier, TierChange, TierPolicy


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
) -> tuple[str | None, str | None]:
    """Move the (locked) member up to the tier its qualifying growth has earned, if that
    is higher than the tier held; never down. Returns the tier codes before and after."""
    policy = policy or TierPolicy.current()
    before = member.tier
    earned = tier_earned(qualifying_growth(member_id=member.pk, now=now, policy=policy))
    if earned is None or (before is not None and earned.rank <= before.rank):
        return _code(before), _code(before)
    member.tier = earned
    member.tier_since = now
    member.tier_held_until = add_months(now, policy.hold_months)
    member.tier_manual_until = None
    member.save(update_fields=["tier", "tier_since", "tier_held_until", "tier_manual_until"])
    TierChange.objects.create(
        member=member,
        from_tier=before,
        to_tier=earned,
        reason=TierChange.Reason.UPGRADE,
        event=event,
        **TierChange.actor_stamp(actor),
    )
    return _code(before), earned.code


def _code(tier: Tier | None) -> str | None:
    return tier.code if tier is not None else None
