"""`each_period` tier benefits: once per member, matrix row and period (periods in the
platform's time zone), re-runnable, set-based."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from config.admin import SCHEDULE_LABELS, TASK_LABELS
from entitlements.models import Grant, QuotaUse
from entitlements.services import benefit_grant
from entitlements.services.periodic import period_grants, period_key
from entitlements.tasks import period_grants_task
from members.models import Member
from riskcontrol.core.actors import Actor
from tests.entitlements.factories import add_source, make_benefit, make_tier, matrix
from tests.members.factories import MemberFactory
from tests.utils import race, requires_postgresql

SHANGHAI = ZoneInfo("Asia/Shanghai")
JAN = dt.datetime(2026, 1, 31, 23, 30, tzinfo=SHANGHAI)
FEB = dt.datetime(2026, 2, 1, 0, 10, tzinfo=SHANGHAI)  # still January 31 in UTC


@pytest.fixture
def gold(db):
    return make_tier("gold", 3, 5000)


def coffee(stock: int = 50, **fields):
    benefit = make_benefit(code="COFFEE", stock=None, **fields)
    add_source(benefit, stock, per_member_limit=None)
    return benefit


def members(tier, count: int, prefix: str = "G", **fields) -> list[Member]:
    return [MemberFactory(external_id=f"{prefix}{n}", tier=tier, **fields) for n in range(count)]


def period_grant_rows():
    return sorted(
        Grant.objects.filter(occasion="each_period", status="fulfilled").values_list(
            "member__external_id", "dedupe_key"
        )
    )


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("benefits_period_grant", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_every_member_of_the_tier_gets_one_grant_per_period_and_a_rerun_none(gold):
    silver = make_tier("silver", 2, 1000)
    golds = members(gold, 5)
    members(silver, 2, prefix="S")
    row = matrix(gold, coffee(), period="month", mode="each_period")

    first = period_grants(now=JAN)
    again = period_grants(now=JAN)

    assert [(p.start, p.report.granted) for p in first] == [(dt.date(2026, 1, 1), 5)]
    assert [(p.report.granted, p.report.existing) for p in again] == [(0, 0)]
    assert period_grant_rows() == sorted(
        (m.external_id, period_key(row.pk, m.pk, dt.date(2026, 1, 1))) for m in golds
    )
    grant = Grant.objects.filter(occasion="each_period").first()
    assert (grant.via, grant.actor_kind, grant.grant_vouchers.count()) == ("tier", "system", 1)
    assert Grant.objects.filter(status="failed").count() == 0


@pytest.mark.django_db
def test_the_next_period_in_shanghai_time_grants_again(gold):
    members(gold, 3)
    matrix(gold, coffee(), period="month", mode="each_period")

    period_grants(now=JAN)
    february = period_grants(now=FEB)
    period_grants(now=FEB)

    assert [(p.start, p.report.granted) for p in february] == [(dt.date(2026, 2, 1), 3)]
    assert Grant.objects.filter(occasion="each_period").count() == 6
    assert sorted(QuotaUse.objects.values_list("period_start", "used").distinct()) == [
        (dt.date(2026, 1, 1), 1),
        (dt.date(2026, 2, 1), 1),
    ]


@pytest.mark.django_db
def test_a_quota_of_two_grants_two_a_period_and_lifetime_once_ever(gold):
    members(gold, 2)
    matrix(gold, coffee(), quota=2, period="week", mode="each_period")
    ship = make_benefit(code="FREE-SHIP", kind="privilege", stock=None, valid_days=30)
    matrix(gold, ship, period="lifetime", mode="each_period")

    period_grants(now=JAN)
    period_grants(now=JAN)
    period_grants(now=JAN + dt.timedelta(days=400))

    counts = {
        code: Grant.objects.filter(benefit__code=code, status="fulfilled").count()
        for code in ("COFFEE", "FREE-SHIP")
    }
    assert counts == {"COFFEE": 2 * 2 * 2, "FREE-SHIP": 2}  # 2 members, 2 weeks, quota 2
    assert Grant.objects.filter(dedupe_key__endswith="#2").count() == 4


@pytest.mark.django_db
def test_out_of_stock_stops_the_row_for_the_run_and_the_next_run_resumes(gold):
    members(gold, 5)
    benefit = coffee(stock=3)
    matrix(gold, benefit, period="month", mode="each_period")

    [part] = period_grants(now=JAN)

    assert (part.report.granted, dict(part.report.failed)) == (3, {"out_of_stock": 1})
    assert "stopped for this run (out_of_stock" in part.report.notes[0]
    add_source(benefit, 10, per_member_limit=None)
    [part] = period_grants(now=JAN)
    assert (part.report.granted, dict(part.report.failed)) == (2, {})
    assert Grant.objects.filter(status="fulfilled").count() == 5


@pytest.mark.django_db
def test_a_refusal_about_the_member_is_not_tried_again_in_the_period(gold):
    silver = make_tier("silver", 2, 1000)
    member = MemberFactory(external_id="M1", tier=silver)
    benefit = coffee()
    matrix(silver, benefit, period="month", mode="claimable")
    matrix(gold, benefit, period="month", mode="each_period")
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=Actor.system(), now=JAN)
    Member.objects.filter(pk=member.pk).update(tier=gold)  # the month's coffee is taken

    for _run in range(3):
        period_grants(now=JAN)

    assert sorted(Grant.objects.values_list("occasion", "status", "failure")) == [
        ("claim", "fulfilled", ""),
        ("each_period", "failed", "quota_exhausted"),
    ]


@pytest.mark.django_db
def test_a_regional_benefit_goes_to_the_members_of_its_region_only(gold):
    members(gold, 2, prefix="SH", region="310000")
    members(gold, 3, prefix="BJ", region="110000")
    matrix(gold, coffee(region="310000"), period="month", mode="each_period")

    period_grants(now=JAN)

    assert [m for m, _key in period_grant_rows()] == ["SH0", "SH1"]
    assert Grant.objects.filter(status="failed").count() == 0


@pytest.mark.django_db
def test_the_command_dry_run_counts_and_writes_nothing_then_grants(gold):
    members(gold, 4)
    matrix(gold, coffee(), period="month", mode="each_period")

    dry = run("--dry-run")
    assert "gold · COFFEE" in dry and "would grant 4" in dry
    assert Grant.objects.count() == 0
    assert "granted 4, already granted 0, failed 0" in run("--chunk", "3")
    assert "granted 0, already granted 0, failed 0" in run()


@pytest.mark.django_db
def test_a_physical_gift_or_an_inactive_benefit_is_skipped_with_a_reason(gold):
    members(gold, 2)
    gift = make_benefit(code="MUG", kind="physical", stock=None)
    matrix(gold, gift, period="month", mode="each_period")
    paused = make_benefit(code="OLD", stock=5, active=False)
    matrix(gold, paused, period="month", mode="each_period")

    parts = period_grants(now=JAN)

    assert [(p.row.benefit.code, p.report.notes) for p in parts] == [
        ("MUG", ["needs the member's address or account: it can only be claimable"]),
        ("OLD", ["the benefit is not active now"]),
    ]
    assert Grant.objects.count() == 0


def test_beat_runs_the_period_grants_nightly_and_the_safety_net_hourly():
    schedule = settings.CELERY_BEAT_SCHEDULE
    nightly = schedule["benefits-period-grants"]
    assert nightly["task"] == "entitlements.tasks.period_grants_task"
    assert (nightly["schedule"].hour, nightly["schedule"].minute) == ({0}, {5})
    assert schedule["benefits-upgrade-grants"]["task"] == (
        "entitlements.tasks.upgrade_grants_missing_task"
    )
    for name in ("benefits-period-grants", "benefits-upgrade-grants"):
        assert SCHEDULE_LABELS[name] == TASK_LABELS[schedule[name]["task"]]
    assert "entitlements.tasks.upgrade_grants_task" in TASK_LABELS


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_racing_runs_grant_each_member_once(gold):
    members(gold, 30)
    matrix(gold, coffee(stock=100), period="month", mode="each_period")

    results = race(2, lambda _i: period_grants(now=JAN, chunk=7))

    assert sum(parts[0].report.granted for parts in results) == 30
    assert Grant.objects.filter(status="fulfilled").count() == 30
    assert Grant.objects.filter(status="failed").count() == 0


@pytest.mark.django_db
def test_shards_split_the_members_and_together_grant_each_once(gold):
    golds = members(gold, 7)
    matrix(gold, coffee(), period="month", mode="each_period")

    [first] = period_grants(now=JAN, shard=(0, 2))
    [second] = period_grants(now=JAN, shard=(1, 2))

    assert first.report.granted == len([m for m in golds if m.pk % 2 == 0])
    assert first.report.granted + second.report.granted == 7
    assert len({m for m, _key in period_grant_rows()}) == 7


@pytest.mark.django_db
def test_the_beat_task_fans_out_over_the_configured_shards(gold, settings):
    settings.BENEFITS_PERIOD_SHARDS = 3
    members(gold, 5)
    matrix(gold, coffee(), period="month", mode="each_period")

    period_grants_task.delay()
    period_grants_task.delay()

    assert Grant.objects.filter(occasion="each_period", status="fulfilled").count() == 5


@pytest.mark.django_db
def test_the_command_refuses_a_bad_shard():
    with pytest.raises(CommandError, match="--shard must be I/N"):
        run("--shard", "2/2")
