"""Tagging a segment's members twice at the same moment (the console action racing the
nightly run) gives each member the tag once and fails neither run (PostgreSQL)."""

import pytest

from members.models import Member, Segment
from members.services import segment_tag_members
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory, TagFactory
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def test_concurrent_tagging_runs_tag_each_member_once():
    vip = TagFactory(code="vip")
    for n in range(200):
        MemberFactory(external_id=f"R{n:03d}", points=n)
    segment = Segment.objects.create(
        code="rich", name="Rich", conditions={"points_min": 50}, tag=vip
    )

    outcomes = race(
        4,
        lambda _i: segment_tag_members(
            segment=Segment.objects.get(pk=segment.pk), actor=Actor.system("race")
        ),
    )

    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    assert sum(outcomes) == 150
    assert Member.tags.through.objects.filter(tag=vip).count() == 150
