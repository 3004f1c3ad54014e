"""Lifecycle stages at their boundaries (defaults: dormant after 30 days without an event,
new for 30 days after joining, loyal from 3 purchases in 90 days). Days are local
(Asia/Shanghai) calendar days."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from members.models import Member, MemberEvent
from members.services import lifecycle_recompute
from members.tasks import lifecycle_recompute_task
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 31, 10, tzinfo=SH)
# start(N) = local midnight N days before 2026-03-31
START_30 = dt.datetime(2026, 3, 1, tzinfo=SH)
START_90 = dt.datetime(2025, 12, 31, tzinfo=SH)
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=SH)
_ids = itertools.count()


def member(*, joined: dt.datetime, last_event: dt.datetime | None = None) -> Member:
    created = MemberFactory(last_event_at=last_event)
    Member.objects.filter(pk=created.pk).update(created_at=joined)
    return created


def events(target: Member, kind: str, *moments: dt.datetime) -> None:
    for moment in moments:
        number = next(_ids)
        MemberEvent.objects.create(
            member=target,
            event_id=f"E{number}",
            order_ref=f"O{number}" if kind == "purchase" else "",
            kind=kind,
            occurred_at=moment,
            actor_kind="system",
            actor_label="test",
        )
    Member.objects.filter(pk=target.pk).update(last_event_at=max(moments))


def stage(target: Member) -> str:
    return Member.objects.values_list("lifecycle_stage", flat=True).get(pk=target.pk)


def test_dormant_after_30_days_without_an_event():
    on_the_edge = member(joined=LONG_AGO, last_event=START_30)
    just_before = member(joined=LONG_AGO, last_event=START_30 - dt.timedelta(seconds=1))
    never_active = member(joined=START_30 - dt.timedelta(seconds=1))
    joined_on_the_edge = member(joined=START_30)

    lifecycle_recompute(now=NOW)

    assert stage(on_the_edge) == "growing"
    assert stage(just_before) == "dormant"
    assert stage(never_active) == "dormant"
    assert stage(joined_on_the_edge) == "new"


def test_new_for_30_days_after_joining():
    fresh = member(joined=START_30, last_event=NOW)
    older = member(joined=START_30 - dt.timedelta(seconds=1), last_event=NOW)

    lifecycle_recompute(now=NOW)

    assert stage(fresh) == "new"
    assert stage(older) == "growing"


def test_loyal_from_three_purchases_in_90_days():
    loyal = member(joined=LONG_AGO)
    events(loyal, "purchase", START_90, dt.datetime(2026, 2, 1, tzinfo=SH), NOW)
    one_too_early = member(joined=LONG_AGO)
    events(
        one_too_early,
        "purchase",
        START_90 - dt.timedelta(seconds=1),
        dt.datetime(2026, 2, 1, tzinfo=SH),
        NOW,
    )
    busy_but_not_buying = member(joined=LONG_AGO)
    events(busy_but_not_buying, "login", *(NOW - dt.timedelta(days=d) for d in range(10)))

    lifecycle_recompute(now=NOW)

    assert stage(loyal) == "loyal"
    assert stage(one_too_early) == "growing"
    assert stage(busy_but_not_buying) == "growing"


def test_a_frequent_buyer_still_turns_dormant_and_new_members_stay_new():
    lapsed = member(joined=LONG_AGO)
    events(lapsed, "purchase", *(dt.datetime(2026, 1, d, tzinfo=SH) for d in (5, 6, 7, 8)))
    new_buyer = member(joined=dt.datetime(2026, 3, 20, tzinfo=SH))
    events(new_buyer, "purchase", *(dt.datetime(2026, 3, d, tzinfo=SH) for d in (20, 21, 22)))

    lifecycle_recompute(now=NOW)

    assert stage(lapsed) == "dormant"
    assert stage(new_buyer) == "new"


def test_the_day_boundary_is_local_midnight():
    # Last event 2026-03-01 00:30 local (2026-02-28 16:30 UTC): still inside on 03-31,
    # dormant from the first moment of 04-01.
    target = member(joined=LONG_AGO, last_event=dt.datetime(2026, 3, 1, 0, 30, tzinfo=SH))

    with time_machine.travel(dt.datetime(2026, 3, 31, 23, 59, 59, tzinfo=SH), tick=False):
        lifecycle_recompute()
    before_midnight = stage(target)
    with time_machine.travel(dt.datetime(2026, 4, 1, 0, 0, tzinfo=SH), tick=False):
        lifecycle_recompute()

    assert before_midnight == "growing"
    assert stage(target) == "dormant"


def test_thresholds_come_from_settings(settings):
    settings.MEMBER_DORMANT_DAYS = 7
    target = member(joined=LONG_AGO, last_event=dt.datetime(2026, 3, 23, 23, tzinfo=SH))

    lifecycle_recompute(now=NOW)

    assert stage(target) == "dormant"


def test_recompute_is_set_based_and_idempotent(django_assert_max_num_queries):
    targets = [member(joined=LONG_AGO, last_event=NOW) for _ in range(20)]
    targets += [member(joined=LONG_AGO) for _ in range(20)]

    with django_assert_max_num_queries(6):
        first = lifecycle_recompute(now=NOW)
    second = lifecycle_recompute(now=NOW)

    assert first == {"dormant": 20, "new": 0, "loyal": 0, "growing": 20}
    assert second == {"dormant": 0, "new": 0, "loyal": 0, "growing": 0}


def test_lifecycle_recompute_command(capsys):
    member(joined=LONG_AGO)
    with time_machine.travel(NOW, tick=False):
        call_command("lifecycle_recompute")

    assert capsys.readouterr().out.splitlines() == [
        "dormant: 1 members moved into this stage.",
        "new: 0 members moved into this stage.",
        "loyal: 0 members moved into this stage.",
        "growing: 0 members moved into this stage.",
    ]


def test_nightly_beat_runs_the_recompute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["members-lifecycle-recompute"]
    target = member(joined=LONG_AGO)
    with time_machine.travel(NOW, tick=False):
        lifecycle_recompute_task.delay()

    assert entry["task"] == lifecycle_recompute_task.name
    assert stage(target) == "dormant"
