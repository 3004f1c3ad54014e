"""Racing tier writes on PostgreSQL: every tier is reached (or reviewed) once, never
recorded twice (the member row lock serialises them)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import F

from members.models import GrowthEntry, Member, Tier, TierChange, TierPolicy
from members.services import member_tier_evaluate, tiers_review
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

NOW = dt.datetime(2026, 1, 5, 12, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def ladder():
    TierPolicy.current()
    return [
        Tier.objects.create(code="normal", name="普通会员", rank=1, threshold=0),
        Tier.objects.create(code="silver", name="银卡会员", rank=2, threshold=1000, retention=800),
        Tier.objects.create(code="gold", name="金卡会员", rank=3, threshold=5000, retention=4000),
    ]


def grow(member_id: int, amount: int) -> tuple[str | None, str | None]:
    with transaction.atomic():
        locked = Member.objects.select_for_update(of=("self",)).get(pk=member_id)
        GrowthEntry.objects.create(member=locked, amount=amount, occurred_at=NOW)
        Member.objects.filter(pk=member_id).update(growth_value=F("growth_value") + amount)
        return member_tier_evaluate(member=locked, now=NOW, actor=Actor.system("race"))


def changes(member: Member) -> list[tuple[str, str, str]]:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("id")
        .values_list("from_tier__code", "to_tier__code", "reason")
    )


def test_two_events_that_both_lift_the_member_upgrade_it_once(ladder):
    member = MemberFactory(tier=ladder[0])

    outcomes = race(2, lambda _i: grow(member.pk, 1200))

    assert sorted(outcomes) == [("normal", "silver"), ("silver", "silver")], outcomes
    assert changes(member) == [("normal", "silver", "upgrade")]
    member.refresh_from_db()
    assert (member.tier.code, member.growth_value) == ("silver", 2400)


def test_many_racing_events_record_each_new_tier_once(ladder):
    member = MemberFactory(tier=ladder[0])

    outcomes = race(10, lambda _i: grow(member.pk, 600))

    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert changes(member) == [("normal", "silver", "upgrade"), ("silver", "gold", "upgrade")]
    member.refresh_from_db()
    assert (member.tier.code, member.growth_value) == ("gold", 6000)


def test_two_racing_reviews_lower_a_member_once(ladder):
    member = MemberFactory(tier=ladder[2], tier_held_until=NOW - dt.timedelta(days=1))

    outcomes = race(2, lambda _i: tiers_review(now=NOW).changed)

    assert sorted(outcomes) == [0, 1], outcomes
    assert changes(member) == [("gold", "silver", "review")]
