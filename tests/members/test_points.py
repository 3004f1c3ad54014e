"""Earning rules and the points ledger, with exact figures (service layer)."""

import datetime as dt
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum

from members.models import EarningRule, GrowthEntry, Member, MemberEvent, PointsEntry
from members.services import (
    InsufficientPoints,
    member_event_record,
    points_adjust,
    points_expire,
    points_spend,
)
from members.services.earning import points_expires_at
from members.tasks import points_expire_task
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.members.factories import MemberFactory, TierFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = Actor.system("test")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def purchase_rule(**fields) -> EarningRule:
    values = {"code": "purchase", "event": "purchase", "points_per_yuan": Decimal("1")}
    return EarningRule.objects.create(**{**values, **fields})


def record(member, event_id, kind="purchase", **fields):
    event, _created = member_event_record(
        member=member, event_id=event_id, kind=kind, actor=ACTOR, **fields
    )
    return event


def ledger_ok(member: Member) -> None:
    member.refresh_from_db()
    entries = PointsEntry.objects.filter(member=member)
    assert member.points == (entries.aggregate(s=Sum("amount"))["s"] or 0)
    assert member.points == (entries.aggregate(s=Sum("remaining"))["s"] or 0)


# --- earning -----------------------------------------------------------------------------


def test_per_yuan_counts_whole_yuan_then_rounds_down():
    member = MemberFactory()
    purchase_rule(points_per_yuan=Decimal("1.5"), growth_per_yuan=Decimal("1"))

    event = record(member, "E1", amount=Decimal("99.99"), order_ref="O1")

    # 99.99 → 99 whole yuan; 99 x 1.5 = 148.5 → 148 points; growth 99 x 1 = 99
    assert event.effects == {"points": 148, "growth": 99, "tier_before": None, "tier_after": None}
    member.refresh_from_db()
    assert (member.points, member.growth_value) == (148, 99)
    lot = PointsEntry.objects.get(member=member)
    assert (lot.kind, lot.amount, lot.remaining, lot.balance_after) == ("earn", 148, 148, 148)
    assert GrowthEntry.objects.get(member=member).amount == 99


def test_per_event_points_and_two_rules_for_one_kind():
    member = MemberFactory()
    purchase_rule()
    EarningRule.objects.create(code="purchase-bonus", event="purchase", points=10, growth=2)

    event = record(member, "E1", amount=Decimal("30.50"), order_ref="O1")

    assert (event.effects["points"], event.effects["growth"]) == (40, 2)
    lots = list(PointsEntry.objects.filter(member=member).order_by("id"))
    assert [(lot.amount, lot.balance_after) for lot in lots] == [(30, 30), (10, 40)]


def test_tier_multiplier_applies_to_points_only_rounded_down():
    gold = TierFactory(code="gold", rank=3, threshold=0)
    member = MemberFactory(tier=gold)
    purchase_rule(growth_per_yuan=Decimal("1"), tier_multipliers={"gold": "1.5"})

    event = record(member, "E1", amount=Decimal("99.00"), order_ref="O1")

    assert (event.effects["points"], event.effects["growth"]) == (148, 99)  # 99 x 1.5 = 148.5


def test_daily_cap_per_member_and_rule_in_the_platform_day():
    member = MemberFactory()
    other = MemberFactory()
    EarningRule.objects.create(code="checkin", event="check_in", points=5, daily_cap=12)

    day = at(2026, 3, 15, 9, 0)
    given = [
        record(member, f"C{i}", kind="check_in", occurred_at=day, now=day).effects["points"]
        for i in range(4)
    ]
    # 23:30 UTC on the 15th is already the 16th in Shanghai: a new day.
    next_day = dt.datetime(2026, 3, 15, 16, 30, tzinfo=dt.UTC)
    late = record(member, "C9", kind="check_in", occurred_at=next_day, now=next_day)
    first_of_other = record(other, "D1", kind="check_in", occurred_at=day, now=day)

    assert given == [5, 5, 2, 0]
    assert late.effects["points"] == 5
    assert first_of_other.effects["points"] == 5
    member.refresh_from_db()
    assert member.points == 17
    ledger_ok(member)


def test_points_expire_at_the_end_of_the_nth_month_in_shanghai():
    assert points_expires_at(at(2026, 3, 15, 10, 0), 12) == dt.datetime(
        2027, 3, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI
    )
    # 2026-01-31 20:00 UTC is 1 February in Shanghai: the month is February.
    assert points_expires_at(dt.datetime(2026, 1, 31, 20, 0, tzinfo=dt.UTC), 1) == dt.datetime(
        2026, 3, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI
    )
    assert points_expires_at(at(2026, 3, 15), None) is None


def test_pending_purchase_points_are_not_spendable_before_activates_at():
    member = MemberFactory()
    purchase_rule(points_pending_days=7)
    bought = at(2026, 3, 15, 10, 0)
    record(member, "E1", amount=Decimal("100"), order_ref="O1", occurred_at=bought, now=bought)
    lot = PointsEntry.objects.get(member=member)
    assert lot.activates_at == at(2026, 3, 22, 10, 0)

    with pytest.raises(InsufficientPoints) as refused:
        points_spend(member=member, amount=10, actor=ACTOR, now=at(2026, 3, 22, 9, 59))
    entry, created = points_spend(member=member, amount=10, actor=ACTOR, now=at(2026, 3, 22, 10, 0))

    assert refused.value.code == "insufficient_points"
    assert refused.value.extra == {"spendable": 0}
    assert "0 points can be spent now; 10 were asked for" in str(refused.value.detail)
    assert (created, entry.amount, entry.balance_after) == (True, -10, 90)


# --- spending ----------------------------------------------------------------------------


def test_spend_takes_the_oldest_spendable_lots_first():
    member = MemberFactory()
    first = points_adjust(member=member, amount=30, reason="gift", actor=ACTOR)
    second = points_adjust(member=member, amount=50, reason="gift", actor=ACTOR)
    third = points_adjust(member=member, amount=20, reason="gift", actor=ACTOR)

    entry, _created = points_spend(member=member, amount=40, reason="coffee", actor=ACTOR)

    for lot in (first, second, third):
        lot.refresh_from_db()
    assert [first.remaining, second.remaining, third.remaining] == [0, 40, 20]
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == (
        "spend",
        -40,
        60,
        "coffee",
    )
    ledger_ok(member)


def test_spend_skips_expired_lots_even_before_the_expiry_run():
    member = MemberFactory()
    now = at(2026, 5, 1)
    old = points_adjust(
        member=member,
        amount=30,
        reason="x",
        actor=ACTOR,
        now=at(2026, 1, 1),
        expires_at=at(2026, 4, 1),
    )
    points_adjust(member=member, amount=20, reason="x", actor=ACTOR, now=at(2026, 1, 2))

    with pytest.raises(InsufficientPoints):
        points_spend(member=member, amount=25, actor=ACTOR, now=now)
    points_spend(member=member, amount=20, actor=ACTOR, now=now)

    old.refresh_from_db()
    assert old.remaining == 30


def test_spend_with_the_same_ref_spends_once():
    member = MemberFactory()
    points_adjust(member=member, amount=100, reason="gift", actor=ACTOR)

    first, created = points_spend(member=member, amount=30, ref="ORDER-9", actor=ACTOR)
    again, created_again = points_spend(member=member, amount=30, ref="ORDER-9", actor=ACTOR)

    member.refresh_from_db()
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert member.points == 70


def test_spend_refuses_zero_and_unknown_member():
    member = MemberFactory()
    with pytest.raises(ValidationFailed) as zero:
        points_spend(member=member, amount=0, actor=ACTOR)
    assert "amount" in zero.value.errors
    with pytest.raises(Exception) as unknown:
        points_spend(member="NOPE", amount=1, actor=ACTOR)
    assert getattr(unknown.value, "code", "") == "not_found"


# --- refunds -----------------------------------------------------------------------------


def test_refund_takes_back_pending_points_of_its_own_purchase_first():
    member = MemberFactory()
    purchase_rule(points_pending_days=7, growth_per_yuan=Decimal("1"))
    EarningRule.objects.create(code="checkin", event="check_in", points=50)
    day = at(2026, 3, 1, 9)
    record(member, "C1", kind="check_in", occurred_at=day, now=day)
    bought = at(2026, 3, 2, 9)
    record(member, "E1", amount=Decimal("100"), order_ref="O1", occurred_at=bought, now=bought)

    refund = record(
        member,
        "R1",
        kind="refund",
        order_ref="O1",
        amount=Decimal("40"),
        occurred_at=at(2026, 3, 3),
        now=at(2026, 3, 3),
    )

    purchase_lot = PointsEntry.objects.get(member=member, kind="earn", event__kind="purchase")
    checkin_lot = PointsEntry.objects.get(member=member, kind="earn", event__kind="check_in")
    assert (purchase_lot.remaining, checkin_lot.remaining) == (60, 50)
    assert refund.effects["points"] == -40
    assert refund.effects["growth"] == -40
    assert refund.effects["points_shortfall"] == 0
    member.refresh_from_db()
    assert (member.points, member.growth_value) == (110, 60)
    ledger_ok(member)


def test_refund_of_spent_points_takes_what_is_left_and_records_the_shortfall():
    member = MemberFactory()
    purchase_rule(growth_per_yuan=Decimal("1"))
    EarningRule.objects.create(code="checkin", event="check_in", points=20)
    record(member, "C1", kind="check_in")
    record(member, "E1", amount=Decimal("100"), order_ref="O1")
    points_spend(member=member, amount=90, actor=ACTOR)  # 20 from the check-in, 70 from O1
    points_adjust(member=member, amount=5, reason="apology", actor=ACTOR)

    refund = record(member, "R1", kind="refund", order_ref="O1")  # the whole purchase

    entry = PointsEntry.objects.get(member=member, kind="refund")
    # 100 to take back: 30 left in its own lot, then 5 from another spendable lot.
    assert (entry.amount, entry.shortfall, entry.balance_after) == (-35, 65, 0)
    assert refund.amount == Decimal("100.00")
    assert refund.effects["points"] == -35
    assert refund.effects["points_shortfall"] == 65
    member.refresh_from_db()
    assert (member.points, member.growth_value) == (0, 0)
    assert GrowthEntry.objects.filter(member=member, amount=-100).exists()
    ledger_ok(member)


def test_partial_refunds_add_up_to_what_the_purchase_earned():
    member = MemberFactory()
    purchase_rule(points_per_yuan=Decimal("3"))
    record(member, "E1", amount=Decimal("10.00"), order_ref="O1")  # 30 points

    first = record(member, "R1", kind="refund", order_ref="O1", amount=Decimal("3.33"))
    second = record(member, "R2", kind="refund", order_ref="O1", amount=Decimal("6.67"))

    # 30 x 3.33/10 = 9.99 → 9; then all of it: 30 - 9 = 21
    assert (first.effects["points"], second.effects["points"]) == (-9, -21)
    member.refresh_from_db()
    assert member.points == 0


@pytest.mark.parametrize(
    ("fields", "error_field", "message"),
    [
        ({"order_ref": "NOPE", "amount": Decimal("1")}, "order_ref", "No purchase of this member"),
        (
            {"order_ref": "O1", "amount": Decimal("100.01")},
            "amount",
            "More than what remains refundable",
        ),
        ({"order_ref": "O1", "amount": Decimal("0")}, "amount", "must be above zero"),
    ],
)
def test_refund_refusals(fields, error_field, message):
    member = MemberFactory()
    purchase_rule()
    record(member, "E1", amount=Decimal("100"), order_ref="O1")

    with pytest.raises(ValidationFailed) as refused:
        record(member, "R1", kind="refund", **fields)

    assert message in str(refused.value.errors[error_field][0])
    assert not MemberEvent.objects.filter(kind="refund").exists()


def test_refund_after_a_full_refund_is_refused():
    member = MemberFactory()
    purchase_rule()
    record(member, "E1", amount=Decimal("100"), order_ref="O1")
    record(member, "R1", kind="refund", order_ref="O1")

    with pytest.raises(ValidationFailed) as refused:
        record(member, "R2", kind="refund", order_ref="O1", amount=Decimal("1"))

    assert "refunded in full" in str(refused.value.errors["order_ref"][0])


# --- adjustments -------------------------------------------------------------------------


def test_adjust_needs_a_reason_and_cannot_go_below_zero():
    member = MemberFactory()
    with pytest.raises(ValidationFailed) as no_reason:
        points_adjust(member=member, amount=10, reason="  ", actor=ACTOR)
    points_adjust(member=member, amount=10, reason="goodwill", actor=ACTOR)
    with pytest.raises(InsufficientPoints) as too_much:
        points_adjust(member=member, amount=-11, reason="mistake", actor=ACTOR)
    entry = points_adjust(member=member, amount=-10, reason="mistake", actor=ACTOR)

    assert "reason" in no_reason.value.errors
    assert "10 points; 11 cannot be taken away" in str(too_much.value.detail)
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == (
        "adjust",
        -10,
        0,
        "mistake",
    )
    ledger_ok(member)


# --- expiry ------------------------------------------------------------------------------


def test_expiry_at_month_end_is_set_based_and_re_runnable():
    members = [MemberFactory() for _ in range(3)]
    purchase_rule(points_valid_months=12)
    earned = at(2026, 3, 15, 10)
    for n, member in enumerate(members):
        record(
            member,
            f"E{n}",
            amount=Decimal("10") * (n + 1),
            order_ref=f"O{n}",
            occurred_at=earned,
            now=earned,
        )
    later = at(2026, 6, 1)
    record(members[0], "E9", amount=Decimal("7"), order_ref="O9", occurred_at=later, now=later)
    points_spend(member=members[1], amount=5, actor=ACTOR, now=later)

    before = points_expire(now=at(2027, 3, 31, 23, 59, 59))
    result = points_expire(now=at(2027, 4, 1, 0, 0), chunk=1)
    again = points_expire(now=at(2027, 4, 1, 0, 0))

    assert before == {"members": 0, "points": 0, "chunks": 0}
    assert result == {"members": 3, "points": 10 + 15 + 30, "chunks": 3}
    assert again == {"members": 0, "points": 0, "chunks": 0}
    for member in members:
        ledger_ok(member)
    assert [m.points for m in members] == [7, 0, 0]
    expired = PointsEntry.objects.get(member=members[1], kind="expire")
    assert (expired.amount, expired.balance_after) == (-15, 0)
    assert expired.actor_label == "points expiry"


def test_expiry_command_reports_what_it_did():
    member = MemberFactory()
    purchase_rule(points_valid_months=1)
    earned = at(2026, 1, 10)
    record(member, "E1", amount=Decimal("12"), order_ref="O1", occurred_at=earned, now=earned)
    out = StringIO()

    with time_machine.travel(at(2026, 3, 1), tick=False):
        call_command("points_expire", stdout=out)

    assert "12 points of 1 members expired in 1 chunks" in out.getvalue()
    member.refresh_from_db()
    assert member.points == 0


def test_beat_runs_the_expiry_hourly():
    member = MemberFactory()
    purchase_rule(points_valid_months=1)
    earned = at(2026, 1, 10)
    record(member, "E1", amount=Decimal("12"), order_ref="O1", occurred_at=earned, now=earned)

    with time_machine.travel(at(2026, 3, 1), tick=False):
        points_expire_task()

    assert settings.CELERY_BEAT_SCHEDULE["expire-points"] == {
        "task": "members.tasks.points_expire_task",
        "schedule": 3600.0,
    }
    member.refresh_from_db()
    assert member.points == 0
