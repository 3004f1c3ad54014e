"""Races on PostgreSQL: points spends and repeated events serialise on the member's row
lock (docs: "Concurrency rules")."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from members.models import EarningRule, Member, MemberEvent, PointsEntry
from members.services import InsufficientPoints, member_event_record, points_adjust, points_spend
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

ACTOR = Actor.system("test")


def test_fifty_concurrent_spends_of_ten_on_a_balance_of_one_hundred():
    member = MemberFactory(external_id="RACE1")
    points_adjust(member=member, amount=60, reason="seed", actor=ACTOR)
    points_adjust(member=member, amount=40, reason="seed", actor=ACTOR)

    results = race(50, lambda i: points_spend(member="RACE1", amount=10, actor=ACTOR))

    succeeded = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(succeeded) == 10
    assert len(refused) == 40
    assert [r for r in results if not isinstance(r, tuple | InsufficientPoints)] == []
    member = Member.objects.get(pk=member.pk)
    ledger = PointsEntry.objects.filter(member=member)
    assert member.points == 0
    assert ledger.aggregate(s=Sum("amount"))["s"] == 0
    assert ledger.aggregate(s=Sum("remaining"))["s"] == 0
    assert sorted(e.balance_after for e in ledger.filter(kind="spend")) == list(range(0, 100, 10))


def test_twenty_concurrent_repeats_of_one_event_id_record_one_event():
    member = MemberFactory(external_id="RACE2")
    EarningRule.objects.create(
        code="purchase", event="purchase", points_per_yuan=Decimal("1"), growth=3
    )

    def send(i):
        return member_event_record(
            member_external_id="RACE2",
            event_id="evt-race",
            kind="purchase",
            amount=Decimal("88.00"),
            order_ref="SO-RACE",
            actor=ACTOR,
        )

    results = race(20, send)

    assert [r for r in results if not isinstance(r, tuple)] == []
    created = [event for event, new in results if new]
    assert len(created) == 1
    assert {event.pk for event, _new in results} == {created[0].pk}
    assert {tuple(sorted(event.effects.items())) for event, _new in results} == {
        tuple(sorted({"points": 88, "growth": 3, "tier_before": None, "tier_after": None}.items()))
    }
    member = Member.objects.get(pk=member.pk)
    assert (member.points, member.growth_value) == (88, 3)
    assert MemberEvent.objects.count() == 1
    assert PointsEntry.objects.count() == 1
