"""Segments: conditions validate with precise errors, compile to one queryset, and tag
their members set-based and idempotently."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import Member, MemberEvent, Segment
from members.services import (
    segment_conditions_errors,
    segment_count,
    segment_members,
    segment_tag_members,
    segments_tag_scheduled,
)
from members.services.segments import SegmentHasNoTag
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import AuditEvent
from riskcontrol.core.errors import ValidationFailed
from tests.members.factories import MemberFactory, TagFactory, TierFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ACTOR = Actor.system("test")


def _event(member, kind, *, days_ago, amount=None, order_ref="", n=[0]):  # noqa: B006
    n[0] += 1
    return MemberEvent.objects.create(
        member=member,
        event_id=f"e{n[0]}",
        kind=kind,
        occurred_at=NOW - dt.timedelta(days=days_ago),
        amount=amount,
        order_ref=order_ref,
    )


def _codes(conditions) -> set[str]:
    segment = Segment(code="s", name="s", conditions=conditions)
    return set(segment_members(segment, now=NOW).values_list("external_id", flat=True))


@pytest.fixture
def people():
    gold, silver = TierFactory(code="gold", rank=30), TierFactory(code="silver", rank=20)
    vip, coffee, blocked = (
        TagFactory(code="vip"),
        TagFactory(code="coffee"),
        TagFactory(code="blocked"),
    )
    a = MemberFactory(
        external_id="A",
        tier=gold,
        lifecycle_stage="loyal",
        points=500,
        region="310000",
        birthday=dt.date(1990, 3, 5),
        last_event_at=NOW - dt.timedelta(days=2),
    )
    b = MemberFactory(
        external_id="B",
        tier=silver,
        lifecycle_stage="dormant",
        points=50,
        region="110000",
        birthday=dt.date(1985, 7, 1),
        last_event_at=NOW - dt.timedelta(days=60),
    )
    c = MemberFactory(
        external_id="C",
        tier=gold,
        lifecycle_stage="loyal",
        points=5000,
        region="310000",
        last_event_at=None,
    )
    a.tags.set([vip, coffee])
    b.tags.set([vip])
    c.tags.set([blocked])
    return {"A": a, "B": b, "C": c}


def test_tier_stage_points_region_birthday_and_tags(people):
    assert _codes({}) == {"A", "B", "C"}
    assert _codes({"tiers": ["gold"]}) == {"A", "C"}
    assert _codes({"stages": ["dormant"]}) == {"B"}
    assert _codes({"points_min": 50, "points_max": 500}) == {"A", "B"}
    assert _codes({"regions": ["310000"]}) == {"A", "C"}
    assert _codes({"birthday_months": [3, 12]}) == {"A"}
    assert _codes({"tags_any": ["coffee", "blocked"]}) == {"A", "C"}
    assert _codes({"tags_all": ["vip", "coffee"]}) == {"A"}
    assert _codes({"tags_none": ["vip"]}) == {"C"}
    assert _codes({"tiers": ["gold"], "tags_none": ["blocked"], "regions": ["310000"]}) == {"A"}


def test_last_event_before_and_after_by_date_or_days_ago(people):
    assert _codes({"last_event_after": 7}) == {"A"}
    assert _codes({"last_event_before": 30}) == {"B"}  # C has no event: not "before"
    # A date is the start of that day in the platform time zone (Asia/Shanghai).
    assert _codes({"last_event_after": "2026-11-18"}) == {"A"}
    assert _codes({"last_event_before": "2026-11-18"}) == {"B"}


def test_purchases_in_the_last_n_days_count_and_net_amount(people):
    a, b, c = people["A"], people["B"], people["C"]
    _event(a, "purchase", days_ago=3, amount=Decimal("80.00"), order_ref="o1")
    _event(a, "purchase", days_ago=10, amount=Decimal("40.00"), order_ref="o2")
    _event(a, "refund", days_ago=2, amount=Decimal("30.00"), order_ref="o2")
    _event(b, "purchase", days_ago=45, amount=Decimal("500.00"), order_ref="o3")  # outside 30 days
    _event(c, "purchase", days_ago=1, amount=Decimal("100.00"), order_ref="o4")
    _event(c, "check_in", days_ago=1)

    assert _codes({"purchases": {"days": 30, "count_min": 1}}) == {"A", "C"}
    assert _codes({"purchases": {"days": 30, "count_min": 2}}) == {"A"}
    # A refund does not un-count the purchase …
    assert _codes({"purchases": {"days": 30, "count_min": 2, "count_max": 2}}) == {"A"}
    # … count_max alone includes members who bought nothing.
    assert _codes({"purchases": {"days": 30, "count_max": 1}}) == {"B", "C"}
    # … but it lowers the amount: A spent 80 + 40 - 30 = 90 net.
    assert _codes({"purchases": {"days": 30, "amount_min": "90.00"}}) == {"A", "C"}
    assert _codes({"purchases": {"days": 30, "amount_min": "90.01"}}) == {"C"}
    assert _codes({"purchases": {"days": 30, "amount_max": "90"}}) == {"A", "B"}
    assert _codes({"purchases": {"days": 60, "amount_min": "200"}}) == {"B"}


def test_the_whole_segment_is_one_query(people):
    segment = Segment.objects.create(
        code="busy",
        name="busy",
        conditions={
            "tiers": ["gold"],
            "stages": ["loyal"],
            "tags_all": ["vip", "coffee"],
            "tags_none": ["blocked"],
            "purchases": {"days": 30, "count_min": 2, "amount_min": "10"},
            "regions": ["310000"],
        },
    )
    with CaptureQueriesContext(connection) as queries:
        assert segment_count(segment, now=NOW) == 0
    # Validation reads the tier and tag codes; the members are counted in ONE statement.
    member_queries = [q for q in queries if 'FROM "members_member"' in q["sql"]]
    assert len(member_queries) == 1
    assert member_queries[0]["sql"].startswith("SELECT COUNT(*)")


def test_bad_conditions_are_reported_precisely_all_at_once(people):
    errors = segment_conditions_errors(
        {
            "tier": ["gold"],
            "tiers": ["gold", "platinum"],
            "stages": ["asleep"],
            "points_min": -1,
            "points_max": "many",
            "purchases": {"days": 0, "count_min": 1.5, "amount_min": "abc", "weeks": 2},
            "last_event_after": "2026-13-01",
            "birthday_months": [0, 13],
            "regions": ["310100", "31"],
            "tags_any": [],
        }
    )
    assert set(errors) == {
        "tier",
        "tiers",
        "stages",
        "points_min",
        "points_max",
        "purchases.days",
        "purchases.count_min",
        "purchases.amount_min",
        "purchases.weeks",
        "last_event_after",
        "birthday_months",
        "regions",
        "tags_any",
    }
    assert "Unknown condition" in errors["tier"][0]
    assert errors["tiers"] == ["Unknown tier: platinum."]
    assert errors["regions"] == [
        "Not a province code (6 digits ending in 0000, e.g. 310000): 310100, 31."
    ]
    assert segment_conditions_errors({"points_min": 10, "points_max": 5}) == {
        "points_max": ["The maximum is below the minimum."]
    }
    assert segment_conditions_errors([1]) == {
        "conditions": ["Conditions must be an object (key: value)."]
    }


def test_a_segment_whose_tier_was_deleted_refuses_instead_of_matching_others(people):
    segment = Segment.objects.create(code="x", name="x", conditions={"tiers": ["gone"]})
    with pytest.raises(ValidationFailed) as raised:
        segment_count(segment)
    assert raised.value.errors == {"tiers": ["Unknown tier: gone."]}


def test_tagging_is_set_based_idempotent_and_keeps_leavers_tagged(people):
    regular = TagFactory(code="regular")
    segment = Segment.objects.create(
        code="gold", name="Gold", conditions={"tiers": ["gold"]}, tag=regular
    )
    people["B"].tags.add(regular)  # tagged before; not in the segment: keeps it

    with CaptureQueriesContext(connection) as queries:
        assert segment_tag_members(segment=segment, actor=ACTOR) == 2
    assert sum("INSERT INTO" in q["sql"] and "member_tags" in q["sql"] for q in queries) == 1
    assert not any(
        q["sql"].startswith("SELECT") and 'members_member"."id" = ' in q["sql"] for q in queries
    )
    assert set(regular.members.values_list("external_id", flat=True)) == {"A", "B", "C"}

    assert segment_tag_members(segment=segment, actor=ACTOR) == 0  # idempotent
    segment.refresh_from_db()
    assert segment.last_count == 2 and segment.last_tagged_at is not None
    audit = AuditEvent.objects.filter(action="tag_members", subject_id=str(segment.pk))
    assert audit.count() == 2
    assert audit.first().changes["tag"] == "regular"


def test_tagging_a_segment_without_a_tag_is_refused_in_plain_words(people):
    segment = Segment.objects.create(code="notag", name="No tag", conditions={})
    with pytest.raises(SegmentHasNoTag) as raised:
        segment_tag_members(segment=segment, actor=ACTOR)
    assert str(raised.value.detail) == 'Segment "No tag" has no tag to give: choose its tag first.'
    assert Member.tags.through.objects.count() == 4  # the fixture's tags, nothing added


def test_the_nightly_run_tags_only_scheduled_segments(people):
    night, manual = TagFactory(code="night"), TagFactory(code="manual")
    Segment.objects.create(
        code="n", name="n", conditions={"stages": ["loyal"]}, tag=night, tag_on_schedule=True
    )
    Segment.objects.create(code="m", name="m", conditions={}, tag=manual)
    Segment.objects.create(
        code="broken", name="b", conditions={"tiers": ["gone"]}, tag=night, tag_on_schedule=True
    )
    assert segments_tag_scheduled() == {"n": 2}
    assert set(night.members.values_list("external_id", flat=True)) == {"A", "C"}
    assert not manual.members.exists()


def test_the_nightly_task_is_on_the_beat_schedule_and_runs_the_service(people, settings):
    from members.tasks import segments_tag_scheduled as task

    entry = settings.CELERY_BEAT_SCHEDULE["segments-tag-scheduled"]
    assert entry["task"] == task.name == "members.tasks.segments_tag_scheduled"
    vip = TagFactory(code="night-vip")
    Segment.objects.create(
        code="n", name="n", conditions={"tiers": ["gold"]}, tag=vip, tag_on_schedule=True
    )

    task.apply()

    assert set(vip.members.values_list("external_id", flat=True)) == {"A", "C"}
