"""An event's round trips on PostgreSQL (members/services/event_rows.py): the lock reads
what the ORM reads, and the rows written in one statement are the ORM path's rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from members.models import (
    EarningRule,
    GrowthEntry,
    Member,
    MemberEvent,
    PointsDaily,
    PointsEntry,
)
from members.services import member_event_record
from members.services.earning import rules_for_kind
from members.services.event_rows import member_lock_with_rules
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory, TierFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL statements of an event"
    ),
]

ACTOR = Actor.system("test")


@pytest.fixture
def program():
    tiers = {
        "normal": TierFactory(code="normal", rank=1, threshold=0),
        "silver": TierFactory(code="silver", rank=2, threshold=1000, retention=800),
    }
    EarningRule.objects.create(
        code="purchase",
        event="purchase",
        points_per_yuan=Decimal("1.25"),
        growth_per_yuan=Decimal("1"),
        tier_multipliers={"silver": "1.5"},
        points_valid_months=12,
        points_pending_days=7,
    )
    EarningRule.objects.create(code="purchase-bonus", event="purchase", points=10, daily_cap=15)
    EarningRule.objects.create(code="purchase-old", event="purchase", points=99, active=False)
    EarningRule.objects.create(code="checkin", event="check_in", points=5)
    return tiers


def _values(instance, names):
    return {name: getattr(instance, name) for name in names}


def test_the_lock_reads_the_member_its_tier_and_the_rules_as_the_orm_does(program):
    member = MemberFactory(
        external_id="M1", tier=program["silver"], points=7, growth_value=1200, region="310000"
    )

    with transaction.atomic():  # FOR UPDATE: inside a transaction, as the service runs it
        locked, rules = member_lock_with_rules("M1", "purchase")

    member_fields = [field.attname for field in Member._meta.concrete_fields]
    assert _values(locked, member_fields) == _values(
        Member.objects.get(pk=member.pk), member_fields
    )
    assert locked.tier == program["silver"]
    assert locked.tier.rank == 2
    assert locked.tier.retention == 800
    rule_fields = [f.attname for f in EarningRule._meta.concrete_fields if f.name != "updated_at"]
    assert [_values(rule, rule_fields) for rule in rules] == [
        _values(rule, rule_fields) for rule in rules_for_kind("purchase")
    ]
    assert [rule.code for rule in rules] == ["purchase", "purchase-bonus"]
    assert rules[0].points_per_yuan == Decimal("1.25")


def test_a_member_without_a_tier_and_a_kind_without_rules(program):
    member = MemberFactory(external_id="M2")

    with transaction.atomic():
        locked, rules = member_lock_with_rules(member, "login")

    assert locked.pk == member.pk
    assert locked.tier is None
    assert rules == []


def test_a_purchase_is_the_lock_and_one_statement_with_its_daily_cap(program):
    member = MemberFactory(external_id="M3", tier=program["normal"])
    at = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)

    with CaptureQueriesContext(connection) as queries:
        first, created = member_event_record(
            member_external_id="M3",
            event_id="e1",
            kind="purchase",
            amount=Decimal("100.90"),
            order_ref="SO-1",
            occurred_at=at,
            now=at,
            actor=ACTOR,
        )
    second, _created = member_event_record(
        member_external_id="M3",
        event_id="e2",
        kind="purchase",
        amount=Decimal("10.00"),
        order_ref="SO-2",
        occurred_at=at,
        now=at,
        actor=ACTOR,
    )

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2
    assert created
    # 100 yuan x 1.25 = 125, +10 bonus; then 12 + the 5 the daily cap of 15 leaves.
    assert first.effects == {
        "points": 135,
        "growth": 100,
        "tier_before": "normal",
        "tier_after": "normal",
    }
    assert second.effects["points"] == 17
    lots = PointsEntry.objects.filter(member=member).order_by("id")
    assert [(lot.amount, lot.remaining, lot.balance_after, lot.event_id) for lot in lots] == [
        (125, 125, 125, first.pk),
        (10, 10, 135, first.pk),
        (12, 12, 147, second.pk),
        (5, 5, 152, second.pk),
    ]
    assert lots[0].activates_at == at + dt.timedelta(days=7)
    assert lots[0].expires_at is not None
    assert lots[0].actor_label == "test"
    member.refresh_from_db()
    assert member.points == 152 == lots.aggregate(total=Sum("amount"))["total"]
    assert member.growth_value == 110
    assert member.last_event_at == at
    assert list(
        GrowthEntry.objects.filter(member=member).order_by("id").values_list("amount", "event")
    ) == [(100, first.pk), (10, second.pk)]
    assert MemberEvent.objects.get(pk=first.pk).effects == first.effects


def test_growth_that_reaches_a_tier_upgrades_after_the_statement(program):
    member = MemberFactory(external_id="M4", tier=program["normal"])

    event, _created = member_event_record(
        member=member,
        event_id="e1",
        kind="purchase",
        amount=Decimal("1000.00"),
        order_ref="SO-1",
        actor=ACTOR,
    )

    assert event.effects["tier_before"] == "normal"
    assert event.effects["tier_after"] == "silver"
    assert MemberEvent.objects.get(pk=event.pk).effects["tier_after"] == "silver"
    assert Member.objects.get(pk=member.pk).tier == program["silver"]


def test_a_cap_that_leaves_nothing_writes_no_lot_and_counts_nothing(program):
    member = MemberFactory(external_id="M5", tier=program["normal"])
    at = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)
    for number in (1, 2, 3):
        event, _created = member_event_record(
            member=member,
            event_id=f"e{number}",
            kind="purchase",
            amount=Decimal("1.00"),
            order_ref=f"SO-{number}",
            occurred_at=at,
            now=at,
            actor=ACTOR,
        )

    # 1 point per purchase; the bonus: 10, then the 5 the cap of 15 leaves, then nothing.
    assert event.effects["points"] == 1
    assert list(
        PointsEntry.objects.filter(member=member)
        .order_by("id")
        .values_list("amount", "balance_after")
    ) == [(1, 1), (10, 11), (1, 12), (5, 17), (1, 18)]
    assert PointsDaily.objects.get(member=member).points == 15
    member.refresh_from_db()
    assert member.points == 18
    assert MemberEvent.objects.get(pk=event.pk).effects["points"] == 1
