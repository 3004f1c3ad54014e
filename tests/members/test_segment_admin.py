"""The segment console: conditions as form fields with plain-language errors, the live
count and a sample, and the confirmed "tag members" action (Django test client)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from members.models import Segment
from members.services import member_upsert
from riskcontrol.models import AuditEvent
from tests.members.factories import MemberFactory, TagFactory, TierFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/members/segment/add/"
CHANGELIST = "/admin/members/segment/"


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def _form(**overrides):
    return {"code": "gold-sh", "name": "上海金卡", "tag": "", **overrides}


def test_the_form_fields_become_the_conditions_and_the_save_is_audited(operator):
    TierFactory(code="gold")
    TagFactory(code="blocked")

    response = operator.post(
        ADD,
        _form(
            tiers=["gold"],
            stages=["loyal", "growing"],
            tags_none=["blocked"],
            points_min="100",
            purchases_days="30",
            purchases_count_min="1",
            purchases_amount_min="99.50",
            last_event_before_days="7",
            birthday_months=["3"],
            regions="310000, 440000",
        ),
    )

    assert response.status_code == 302
    segment = Segment.objects.get(code="gold-sh")
    assert segment.conditions == {
        "tiers": ["gold"],
        "stages": ["loyal", "growing"],
        "tags_none": ["blocked"],
        "points_min": 100,
        "birthday_months": [3],
        "regions": ["310000", "440000"],
        "purchases": {"days": 30, "count_min": 1, "amount_min": "99.50"},
        "last_event_before": 7,
    }
    assert AuditEvent.objects.filter(subject="members.segment", action="create").exists()


def test_bad_conditions_are_shown_on_their_fields_in_plain_words(operator):
    response = operator.post(
        ADD,
        _form(
            purchases_count_min="2",
            regions="310100",
            points_min="500",
            points_max="100",
            last_event_after_date="2026-01-01",
            last_event_after_days="3",
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["purchases_days"] == ["Give a whole number of days from 1 to 3660."]
    assert errors["regions"] == [
        "Not a province code (6 digits ending in 0000, e.g. 310000): 310100."
    ]
    assert errors["points_max"] == ["The maximum is below the minimum."]
    assert errors["last_event_after_days"] == ["Give a date or a number of days, not both."]
    assert not Segment.objects.exists()


def test_the_change_page_shows_the_live_count_and_a_sample_of_20(operator):
    gold = TierFactory(code="gold", name="金卡")
    for n in range(23):
        MemberFactory(external_id=f"G{n:02d}", tier=gold, region="310000")
    MemberFactory(external_id="OTHER", region="440000")
    member_upsert(external_id="G00", phone="13912345678")
    segment = Segment.objects.create(
        code="sh", name="上海", conditions={"regions": ["310000"], "tiers": ["gold"]}
    )

    response = operator.get(f"/admin/members/segment/{segment.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "23" in page
    assert page.count("<tr><td><a href=") == 20
    assert "OTHER" not in page
    assert "13912345678" not in page and "139****5678" not in page
    form = response.context["adminform"].form
    assert form.initial["tiers"] == ["gold"]
    assert form.initial["regions"] == "310000"


def test_the_change_page_says_when_the_conditions_no_longer_hold(operator):
    segment = Segment.objects.create(code="x", name="x", conditions={"tiers": ["gone"]})

    response = operator.get(f"/admin/members/segment/{segment.pk}/change/")

    assert response.status_code == 200
    assert "The conditions no longer hold (tiers: Unknown tier: gone.)" in (
        response.content.decode()
    )


def test_tagging_members_is_confirmed_then_done_once(operator):
    vip = TagFactory(code="vip", name="VIP")
    for n in range(3):
        MemberFactory(external_id=f"M{n}", points=1000)
    MemberFactory(external_id="POOR", points=0)
    segment = Segment.objects.create(
        code="rich", name="Rich", conditions={"points_min": 500}, tag=vip
    )
    form = {"action": "tag_members", ACTION_CHECKBOX_NAME: [segment.pk]}

    asked = operator.post(CHANGELIST, form)
    assert asked.status_code == 200
    assert "Tag the members of these segments?" in asked.content.decode()
    assert not vip.members.exists()

    done = operator.post(CHANGELIST, {**form, "confirmed": "yes"}, follow=True)
    again = operator.post(CHANGELIST, {**form, "confirmed": "yes"}, follow=True)

    assert "Rich: 3 members newly tagged “VIP”." in done.content.decode()
    assert "Rich: 0 members newly tagged “VIP”." in again.content.decode()
    assert set(vip.members.values_list("external_id", flat=True)) == {"M0", "M1", "M2"}


def test_tagging_a_segment_without_a_tag_is_refused_with_a_reason(operator):
    segment = Segment.objects.create(code="notag", name="No tag", conditions={})
    form = {"action": "tag_members", ACTION_CHECKBOX_NAME: [segment.pk], "confirmed": "yes"}

    response = operator.post(CHANGELIST, form, follow=True)

    assert (
        "No tag: Segment &quot;No tag&quot; has no tag to give: choose its tag first."
        in response.content.decode()
    )


def test_the_segment_pages_are_in_chinese(operator):
    segment = Segment.objects.create(code="all", name="全部", conditions={})
    MemberFactory()
    response = operator.get(
        f"/admin/members/segment/{segment.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    page = response.content.decode()
    for text in ("人群", "当前会员数", "样本（20）", "购买次数至少", "省份代码"):
        assert text in page, text


def test_a_purchase_window_without_a_count_or_amount_says_what_is_missing(operator):
    response = operator.post(ADD, _form(purchases_days="30"))

    assert response.context["adminform"].form.errors["purchases_days"] == [
        "Give a purchase count or an amount spent (at least or at most) for these days."
    ]
    zh = operator.post(ADD, _form(purchases_days="30"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.context["adminform"].form.errors["purchases_days"] == [
        "请为这些天数填写购买次数或消费金额（至少或至多）。"
    ]
