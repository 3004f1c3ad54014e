"""An event whose growth cannot reach the next tier up decides that with one query; one
that can still lifts the member (the shortcut never hides an upgrade)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import EarningRule, Member, TierChange
from members.services import member_event_record
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory, TierFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture
def ladder():
    tiers = {
        "normal": TierFactory(code="normal", rank=1, threshold=0),
        "silver": TierFactory(code="silver", rank=2, threshold=1000),
        "gold": TierFactory(code="gold", rank=3, threshold=5000),
    }
    EarningRule.objects.create(code="buy", event="purchase", growth_per_yuan=1)
    member = MemberFactory(external_id="M1", tier=tiers["silver"], growth_value=4000)
    return member, tiers


def _purchase(member, event_id, amount):
    event, _created = member_event_record(
        member=member,
        event_id=event_id,
        kind="purchase",
        amount=Decimal(amount),
        order_ref=event_id,
        actor=ACTOR,
    )
    return event


def test_growth_that_cannot_reach_the_next_tier_reads_no_policy_and_no_growth_sum(ladder):
    member, _tiers = ladder

    with CaptureQueriesContext(connection) as queries:
        event = _purchase(member, "e1", "100.00")

    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert event.effects["tier_after"] == "silver"
    assert "members_tierpolicy" not in sql
    assert 'SUM("members_growthentry"' not in sql
    assert Member.objects.get(pk=member.pk).growth_value == 4100


def test_growth_that_reaches_the_next_tier_still_lifts_the_member(ladder):
    member, tiers = ladder
    # Qualifying growth comes from the entries: give the member 4,000 of them first.
    member.growth_entries.create(amount=4000, occurred_at=member.created_at)

    event = _purchase(member, "e2", "1000.00")

    assert event.effects == {
        "points": 0,
        "growth": 1000,
        "tier_before": "silver",
        "tier_after": "gold",
    }
    assert TierChange.objects.filter(member=member, to_tier=tiers["gold"]).count() == 1
