"""An operator opens a member in zh-hans and sees the member program: points (spendable,
pending, next expiry), tier progress and the timeline."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from members.models import GrowthEntry, MemberEvent, PointsEntry, Tier, TierChange
from members.services import member_upsert
from riskcontrol.core.actors import Actor

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("test")


def test_operator_sees_a_members_points_tier_progress_and_timeline_in_chinese(
    browser, live_server, operator_user
):
    now = timezone.now()
    normal = Tier.objects.create(code="normal", name="普通会员", rank=1, threshold=0)
    silver = Tier.objects.create(code="silver", name="银卡会员", rank=2, threshold=1000)
    Tier.objects.create(code="gold", name="金卡", rank=3, threshold=5000)
    member, _created = member_upsert(external_id="M-ZH", name="王小明", phone="13912345678")
    member.tier, member.points, member.growth_value = silver, 1440, 1240
    member.save()
    MemberEvent.objects.create(
        member=member,
        event_id="E-1",
        kind="purchase",
        occurred_at=now - dt.timedelta(days=2),
        amount=Decimal("1240.00"),
        order_ref="ORD-77",
        effects={"points": 1240, "growth": 1240},
        **MemberEvent.actor_stamp(SYSTEM),
    )
    GrowthEntry.objects.create(member=member, amount=1240, occurred_at=now - dt.timedelta(days=2))
    PointsEntry.objects.create(
        member=member,
        kind="earn",
        amount=1240,
        remaining=1240,
        balance_after=1240,
        expires_at=now + dt.timedelta(days=40),
        **PointsEntry.actor_stamp(SYSTEM),
    )
    PointsEntry.objects.create(
        member=member,
        kind="earn",
        amount=200,
        remaining=200,
        balance_after=1440,
        activates_at=now + dt.timedelta(days=5),
        expires_at=now + dt.timedelta(days=400),
        **PointsEntry.actor_stamp(SYSTEM),
    )
    TierChange.objects.create(
        member=member,
        from_tier=normal,
        to_tier=silver,
        reason="upgrade",
        **TierChange.actor_stamp(SYSTEM),
    )
    expiry_day = timezone.localtime(now + dt.timedelta(days=40)).date().isoformat()

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/members/member/")
    page.get_by_role("link", name="M-ZH").click()

    program = page.locator("#member-program")
    expect(program.locator("h2")).to_have_text("会员计划")
    expect(page.locator("#program-points")).to_have_text("1,440（可用 1,240，待生效 200）")
    expect(page.locator("#program-expiry")).to_have_text(f"{expiry_day} 到期 1,240 积分")
    expect(page.locator("#program-tier")).to_have_text("银卡会员")
    expect(page.locator("#program-tier-progress")).to_have_text(
        "1,240 / 5,000，升至金卡（还差 3,760）"
    )
    timeline = page.locator("#member-timeline")
    expect(timeline.locator("h2")).to_have_text("时间线")
    rows = timeline.locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text("普通会员 → 银卡会员 · 成长值升级")
    expect(timeline).to_contain_text("积分 +1240，余额 1,240")
    expect(timeline).to_contain_text("金额 ¥1240.00 · 订单 ORD-77 · 积分 +1240 · 成长值 +1240")
    expect(timeline.get_by_role("link", name="消费")).to_be_visible()
    expect(timeline.get_by_role("link", name="积分流水")).to_be_visible()
    expect(page.locator("#content")).not_to_contain_text("13912345678")

    # the timeline's link opens the member's points entries, in Chinese
    timeline.get_by_role("link", name="积分流水").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#content h1")).to_contain_text("积分流水")
    context.close()
