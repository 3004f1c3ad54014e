import pytest
from playwright.sync_api import expect

from members.services import member_upsert

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, live_server, username="op", password="op-password-123"):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_operator_signs_in_and_finds_a_member_by_phone(page, live_server, operator_user, offline):
    member_upsert(external_id="M1", name="Ada", phone="13912345678")
    member_upsert(external_id="M2", name="Grace", phone="13900000000")

    sign_in(page, live_server)
    page.locator("a[href='/admin/members/member/']").first.click()
    page.fill("#searchbar", "139 1234 5678")
    page.press("#searchbar", "Enter")

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("139****5678")
    expect(page.locator("#result_list")).not_to_contain_text("13912345678")
    assert offline == []


def test_console_speaks_chinese_to_a_chinese_browser(browser, live_server, operator_user):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()

    sign_in(page, live_server)

    expect(page.locator("#site-name")).to_contain_text("权益运营控制台")
    expect(page.get_by_role("link", name="会员").first).to_be_visible()
    context.close()


def test_api_docs_render_with_no_network(page, live_server, offline):
    page.goto(f"{live_server.url}/api/v1/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Quanyi partner API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(
        page.get_by_role("link", name="/api/v1/members/{external_id}", exact=True)
    ).to_be_visible()
    assert offline == []
