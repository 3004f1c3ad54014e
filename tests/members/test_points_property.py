"""Property: whatever interleaving of purchases, check-ins, spends, refunds, adjustments,
time passing and expiry runs, `Member.points` == the ledger's sum == the open lots'
remaining points, and never below zero (service layer, real database)."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import EarningRule, Member, MemberEvent, PointsEntry
from members.services import (
    InsufficientPoints,
    member_event_record,
    points_adjust,
    points_expire,
    points_spend,
)
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("property")
START = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
_members = itertools.count(1)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("purchase"), st.decimals(min_value=1, max_value=500, places=2)),
        st.tuples(st.just("check_in"), st.just(0)),
        st.tuples(st.just("spend"), st.integers(min_value=1, max_value=300)),
        st.tuples(st.just("refund"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("adjust"), st.integers(min_value=-200, max_value=200).filter(bool)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=70)),
        st.tuples(st.just("expire"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


def check(member_id: int) -> None:
    member = Member.objects.get(pk=member_id)
    ledger = PointsEntry.objects.filter(member_id=member_id)
    assert member.points >= 0
    assert member.points == (ledger.aggregate(s=Sum("amount"))["s"] or 0)
    assert member.points == (ledger.aggregate(s=Sum("remaining"))["s"] or 0)
    assert member.growth_value >= 0


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_balance_equals_ledger_under_any_interleaving(steps):
    EarningRule.objects.get_or_create(
        code="p-purchase",
        defaults={
            "event": "purchase",
            "points_per_yuan": Decimal("1.5"),
            "growth_per_yuan": Decimal("1"),
            "points_pending_days": 3,
            "points_valid_months": 1,
        },
    )
    EarningRule.objects.get_or_create(
        code="p-checkin",
        defaults={"event": "check_in", "points": 5, "daily_cap": 8, "points_valid_months": 1},
    )
    n = next(_members)
    member = Member.objects.create(external_id=f"PROP{n}")
    now = START
    purchases: list[str] = []
    for index, (kind, value) in enumerate(steps):
        try:
            if kind == "purchase":
                ref = f"O{n}-{index}"
                member_event_record(
                    member=member,
                    event_id=f"{n}-{index}",
                    kind="purchase",
                    amount=value,
                    order_ref=ref,
                    occurred_at=now,
                    now=now,
                    actor=ACTOR,
                )
                purchases.append(ref)
            elif kind == "check_in":
                member_event_record(
                    member=member,
                    event_id=f"{n}-{index}",
                    kind="check_in",
                    occurred_at=now,
                    now=now,
                    actor=ACTOR,
                )
            elif kind == "refund" and purchases:
                ref = purchases[value % len(purchases)]
                bought = MemberEvent.objects.get(member=member, order_ref=ref, kind="purchase")
                member_event_record(
                    member=member,
                    event_id=f"{n}-{index}",
                    kind="refund",
                    order_ref=ref,
                    amount=(bought.amount / 3).quantize(Decimal("0.01")),
                    occurred_at=now,
                    now=now,
                    actor=ACTOR,
                )
            elif kind == "spend":
                points_spend(member=member, amount=value, actor=ACTOR, now=now)
            elif kind == "adjust":
                points_adjust(member=member, amount=value, reason="property", actor=ACTOR, now=now)
            elif kind == "advance":
                now += dt.timedelta(days=value)
                if value % 2:
                    points_expire(now=now)
            elif kind == "expire":
                points_expire(now=now)
        except (InsufficientPoints, ValidationFailed):
            pass
        check(member.pk)
