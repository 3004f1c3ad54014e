"""Earning rules: what an event gives in points and growth value (PROGRAM.md
`earning_rules`).

For each active rule whose `event` is the event's kind, in code order:

- points: `points` per event, or `points_per_yuan` x the event's whole yuan (the amount
  rounded down to a whole yuan first, the product rounded down again); then the member's
  tier multiplier (`tier_multipliers[tier code]`, points only, rounded down); then the
  rule's daily cap per member (`PointsDaily`, the day of the event in the platform time
  zone): what would pass the cap is not given.
- growth: `growth` per event, or `growth_per_yuan` x whole yuan (rounded down); no
  multiplier, no cap.
- every rule that gives points writes its own lot (`PointsEntry` kind `earn`, with
  `remaining`, `activates_at` = the event's time + `points_pending_days`, and
  `expires_at`, see `points_expires_at`).

Callers hold the member's row lock; everything here runs in the event's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.db import connection
from django.db.models import F
from django.utils import timezone

from riskcontrol.core.actors import Actor

from ..models import EarningRule, GrowthEntry, Member, MemberEvent, PointsDaily, PointsEntry
from .tiers import add_months


def whole_yuan(amount: Decimal | None) -> int:
    """The amount in whole yuan, rounded down (¥99.99 → 99); 0 without an amount."""
    if amount is None or amount <= 0:
        return 0
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def rule_base_points(rule: EarningRule, amount: Decimal | None) -> int:
    """Points before the multiplier and the cap."""
    if rule.points is not None:
        return rule.points
    if rule.points_per_yuan is not None:
        return _floor(Decimal(whole_yuan(amount)) * rule.points_per_yuan)
    return 0


def rule_growth(rule: EarningRule, amount: Decimal | None) -> int:
    if rule.growth is not None:
        return rule.growth
    if rule.growth_per_yuan is not None:
        return _floor(Decimal(whole_yuan(amount)) * rule.growth_per_yuan)
    return 0


def tier_multiplied(rule: EarningRule, points: int, tier_code: str | None) -> int:
    """`points` x the rule's multiplier for the tier, rounded down (no entry: x 1)."""
    if not tier_code or tier_code not in (rule.tier_multipliers or {}):
        return points
    return max(_floor(points * Decimal(str(rule.tier_multipliers[tier_code]))), 0)


def points_expires_at(earned_at: dt.datetime, valid_months: int | None) -> dt.datetime | None:
    """Points earned at `earned_at` expire at the very end of the `valid_months`-th month
    after the month they were earned in, in the platform time zone (settings.TIME_ZONE,
    Asia/Shanghai): earned 2026-03-15 with 12 months → expire at
    2027-03-31 23:59:59.999999+08:00. None (never) without a validity."""
    if not valid_months:
        return None
    local = timezone.localtime(earned_at, timezone.get_default_timezone())
    first_of_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    # The start of the month after the last valid one, minus one microsecond.
    start_after = add_months(first_of_month.replace(tzinfo=None), valid_months + 1)
    return timezone.make_aware(start_after, timezone.get_default_timezone()) - dt.timedelta(
        microseconds=1
    )


def rules_for_kind(kind: str) -> list[EarningRule]:
    return list(EarningRule.objects.filter(active=True, event=kind).order_by("code"))


@dataclass
class Earned:
    """What the rules give for one event, computed before the event row exists (so the
    event is inserted with its effects); `earned_write` saves the lots and entries."""

    points: int = 0
    growth: int = 0
    lots: list[PointsEntry] = field(default_factory=list)
    growth_entries: list[GrowthEntry] = field(default_factory=list)
    # The member's points before the event (the lots' `balance_after` count from there).
    points_before: int = 0
    # With `caps_in_statement`: lots whose daily cap the write counts, by lot index ->
    # (rule, day); until then their amount (and the totals) are what the rule would give
    # without the cap.
    capped: dict[int, tuple[EarningRule, dt.date]] = field(default_factory=dict)


def rules_apply(
    *,
    member: Member,
    kind: str,
    amount: Decimal | None,
    occurred_at: dt.datetime,
    ref: str,
    actor: Actor,
    rules: list[EarningRule] | None = None,
    caps_in_statement: bool = False,
) -> Earned:
    """Apply the active earning rules for an event of `kind` to the (locked) `member`:
    count the daily caps, build the lots and growth entries (saved by `earned_write`),
    and add the totals to the in-memory `member.points` / `member.growth_value` (for
    `balance_after`); the caller writes them to the row in one UPDATE. `rules`: the
    rules for `kind` when the caller read them already (`rules_for_kind`).
    `caps_in_statement`: leave the daily caps to the statement that writes the lots
    (`event_rows.event_rows_write`), which sets the capped amounts and the totals."""
    tier_code = member.tier.code if member.tier_id else None
    local_day = timezone.localtime(occurred_at, timezone.get_default_timezone()).date()
    earned = Earned(points_before=member.points)
    stamp = PointsEntry.actor_stamp(actor)
    for rule in rules_for_kind(kind) if rules is None else rules:
        points = tier_multiplied(rule, rule_base_points(rule, amount), tier_code)
        if points > 0 and rule.daily_cap is not None:
            if caps_in_statement:
                earned.capped[len(earned.lots)] = (rule, local_day)
            else:
                points = _within_daily_cap(member=member, rule=rule, day=local_day, points=points)
        if points > 0:
            earned.points += points
            earned.lots.append(
                PointsEntry(
                    member=member,
                    kind=PointsEntry.Kind.EARN,
                    amount=points,
                    balance_after=member.points + earned.points,
                    remaining=points,
                    reason=rule.name or rule.code,
                    ref=ref,
                    rule=rule,
                    activates_at=occurred_at + dt.timedelta(days=rule.points_pending_days),
                    expires_at=points_expires_at(occurred_at, rule.points_valid_months),
                    **stamp,
                )
            )
        growth = rule_growth(rule, amount)
        if growth > 0:
            earned.growth += growth
            earned.growth_entries.append(
                GrowthEntry(
                    member=member,
                    amount=growth,
                    occurred_at=occurred_at,
                    reason=rule.name or rule.code,
                )
            )
    member.points += earned.points
    member.growth_value += earned.growth
    return earned


def earned_write(earned: Earned, *, event: MemberEvent) -> None:
    """Save what `rules_apply` built, pointing at the event."""
    for row in (*earned.lots, *earned.growth_entries):
        row.event = event
    if earned.lots:
        PointsEntry.objects.bulk_create(earned.lots)
    if earned.growth_entries:
        GrowthEntry.objects.bulk_create(earned.growth_entries)


_DAILY_SQL = """
WITH before AS (
    SELECT points FROM members_pointsdaily
    WHERE member_id = %(member)s AND rule_id = %(rule)s AND day = %(day)s
)
INSERT INTO members_pointsdaily AS daily (member_id, rule_id, day, points)
VALUES (%(member)s, %(rule)s, %(day)s, LEAST(%(points)s, %(cap)s))
ON CONFLICT (member_id, rule_id, day)
DO UPDATE SET points = LEAST(daily.points + %(points)s, %(cap)s)
RETURNING daily.points - COALESCE((SELECT points FROM before), 0)
"""


def _within_daily_cap(*, member: Member, rule: EarningRule, day: dt.date, points: int) -> int:
    """The part of `points` that fits under the rule's daily cap for the member, counted
    in `PointsDaily` (under the member's lock: no other writer for this member)."""
    if connection.vendor == "postgresql":
        params = {
            "member": member.pk,
            "rule": rule.pk,
            "day": day,
            "points": points,
            "cap": rule.daily_cap,
        }
        with connection.cursor() as cursor:
            cursor.execute(_DAILY_SQL, params)
            return max(cursor.fetchone()[0], 0)
    daily, _created = PointsDaily.objects.get_or_create(member=member, rule=rule, day=day)
    points = min(points, max(rule.daily_cap - daily.points, 0))
    if points:
        PointsDaily.objects.filter(pk=daily.pk).update(points=F("points") + points)
    return points
