"""The console's "set tier by hand" page: standing, history, the form and its refusals."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from members.models import GrowthEntry, Member, Tier, TierChange, TierPolicy
from members.services import member_tier_evaluate
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 1, 6, 10, tzinfo=SH)


@pytest.fixture
def ladder():
    TierPolicy.current()
    return {
        tier.code: tier
        for tier in (
            Tier.objects.create(code="normal", name="Normal", rank=1, threshold=0),
            Tier.objects.create(code="silver", name="Silver", rank=2, threshold=1000),
            Tier.objects.create(code="gold", name="Gold", rank=3, threshold=5000),
        )
    }


@pytest.fixture
def member(ladder):
    created = MemberFactory(external_id="M1", tier=ladder["normal"])
    GrowthEntry.objects.create(member=created, amount=1240, occurred_at=NOW)
    Member.objects.filter(pk=created.pk).update(growth_value=1240)
    created.refresh_from_db()
    with time_machine.travel(NOW, tick=False):
        member_tier_evaluate(member=created, now=NOW, actor=Actor.system("test"))
    return created


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def test_the_page_shows_standing_progress_and_history(operator, member):
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        page = operator.get(f"/admin/members/member/{member.pk}/tier/").content.decode()

    assert "1,240 of 5,000 to Gold" in page
    assert "upgraded by growth value" in page
    assert 'name="reason"' in page


def test_zh_hans_page(operator, member):
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        page = operator.get(
            f"/admin/members/member/{member.pk}/tier/", HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()

    assert "手动设置等级" in page
    assert "成长值 1240 / 5000，达到即升级为Gold" in page
    assert "成长值升级" in page


def test_setting_a_tier_by_hand(operator, member, ladder):
    with time_machine.travel(NOW, tick=False):
        response = operator.post(
            f"/admin/members/member/{member.pk}/tier/",
            {"tier": ladder["gold"].pk, "last_day": "2026-02-28", "reason": "投诉补偿"},
        )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.tier == ladder["gold"]
    assert member.tier_manual_until == dt.datetime(2026, 3, 1, tzinfo=SH)
    change = TierChange.objects.filter(member=member).latest("id")
    assert (change.reason, change.note, change.actor_label) == (
        "manual",
        "投诉补偿",
        "operator-user",
    )


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"last_day": "2026-02-28", "reason": ""}, "This field is required."),
        (
            {"last_day": "2026-01-05", "reason": "补偿"},
            "The end of a manual tier must be in the future.",
        ),
    ],
)
def test_refusals_show_on_the_form_and_change_nothing(operator, member, ladder, form, message):
    with time_machine.travel(NOW, tick=False):
        response = operator.post(
            f"/admin/members/member/{member.pk}/tier/", {"tier": ladder["gold"].pk, **form}
        )

    assert response.status_code == 200
    assert message in response.content.decode()
    member.refresh_from_db()
    assert member.tier == ladder["silver"]
    assert TierChange.objects.filter(member=member).count() == 1


def test_an_auditor_may_not_set_tiers(console_client, member, ladder):
    auditor = console_client("Auditor")

    response = auditor.post(
        f"/admin/members/member/{member.pk}/tier/",
        {"tier": ladder["gold"].pk, "last_day": "2099-01-01", "reason": "x"},
    )

    assert response.status_code == 403
    assert TierChange.objects.filter(member=member).count() == 1


def test_the_member_form_links_to_the_page_and_keeps_the_tier(operator, member, ladder):
    page = operator.get(f"/admin/members/member/{member.pk}/change/").content.decode()
    operator.post(
        f"/admin/members/member/{member.pk}/change/",
        {"external_id": "M1", "name": "Ada", "tier": ladder["gold"].pk, "lifecycle_stage": "new"},
    )

    assert f'href="/admin/members/member/{member.pk}/tier/"' in page
    member.refresh_from_db()
    assert member.tier == ladder["silver"]
