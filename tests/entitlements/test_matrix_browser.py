"""In a real browser, in zh-hans: an operator opens the tier benefit matrix from the
console home, gives 金卡 a monthly quota of 2 of a coupon benefit, saves once and sees
the confirmation; the member's entitlements then show the change, and the grant path
honours it (two claims this month, the third refused)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from entitlements.errors import QuotaExhausted
from entitlements.services import benefit_grant
from members.models import Member
from riskcontrol.core.actors import Actor
from riskcontrol.models import AuditEvent
from tests.entitlements.factories import add_source, make_benefit, make_tier, matrix
from tests.members.factories import MemberFactory
from tests.riskcontrol.factories import partner_client_with_key

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "op-password-123"


@pytest.fixture
def operator(transactional_db):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("op", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    return user


def _entitlements_of(member: Member) -> list[dict]:
    """What the member may claim now through their tier, as the partner API's
    `GET /api/v1/members/{external_id}/entitlements` answers it."""
    _client, raw_key = partner_client_with_key(scopes=["members:read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    response = api.get(f"/api/v1/members/{member.external_id}/entitlements")
    assert response.status_code == 200, response.content
    return [
        {
            "benefit": one["benefit"]["code"],
            "via": one["via"],
            "limit": one["quota"]["limit"],
            "period": one["quota"]["period"],
            "used": one["quota"]["used"],
        }
        for one in response.json()["claimable"]
        if one["via"] == "tier"
    ]


def test_an_operator_edits_the_matrix_grid_in_chinese_and_the_member_sees_it(
    browser, live_server, operator
):
    silver, gold = make_tier("silver", 2), make_tier("gold", 3)
    silver.name, gold.name = "银卡", "金卡"
    silver.save(), gold.save()
    coffee = make_benefit(stock=None, code="COFFEE", name="咖啡券")
    add_source(coffee, 10, per_member_limit=None)  # the quota, not the batch, limits
    matrix(silver, coffee, quota=1, period="month")
    member = MemberFactory(external_id="M-GOLD", tier=gold)
    assert _entitlements_of(member) == []

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.locator("#content-main").get_by_role("link", name="等级权益").click()

    expect(page.locator("h1")).to_have_text("等级权益矩阵")
    cell = page.locator(f'td[data-cell="{gold.pk}-{coffee.pk}"]')
    expect(cell.get_by_label("金卡的咖啡券额度")).to_have_value("")
    cell.get_by_label("金卡的咖啡券额度").fill("2")
    cell.locator(f'select[name="p-{gold.pk}-{coffee.pk}"]').select_option(label="月")
    cell.locator(f'select[name="m-{gold.pk}-{coffee.pk}"]').select_option(label="可领取")
    page.get_by_role("button", name="保存矩阵").click()

    expect(page.locator("ul.messagelist")).to_have_text("等级权益矩阵已保存：修改了 1 个单元格。")
    expect(cell.get_by_label("金卡的咖啡券额度")).to_have_value("2")
    expect(page.locator("#matrix-history tbody tr").first).to_contain_text("gold · COFFEE")
    context.close()

    assert _entitlements_of(member) == [
        {"benefit": "COFFEE", "via": "tier", "limit": 2, "period": "month", "used": 0}
    ]
    assert AuditEvent.objects.get(subject="entitlements.tierbenefit").actor_label == "op"
    actor = Actor.system("test")
    for _claim in range(2):
        benefit_grant(member="M-GOLD", benefit="COFFEE", via="tier", actor=actor)
    with pytest.raises(QuotaExhausted):
        benefit_grant(member="M-GOLD", benefit="COFFEE", via="tier", actor=actor)
    assert _entitlements_of(member)[0]["used"] == 2
