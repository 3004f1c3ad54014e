"""The console home as a Chinese-speaking operator sees it: business sections, then the
"系统" heading over the technical ones; an unknown console address shows the console's
own 404 page in Chinese with a way home."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def zh_page(browser):
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")


def test_console_home_lists_business_sections_before_the_system_heading(
    zh_page, live_server, operator_user, offline
):
    page = zh_page
    sign_in(page, live_server)

    main = page.locator("#content-main")
    heading = main.locator("h2.console-section-system")
    expect(heading).to_have_text("系统")
    captions = main.locator(".module caption, h2.console-section-system")
    texts = [text.strip() for text in captions.all_inner_texts()]
    system_at = texts.index("系统")
    business = texts[:system_at]
    assert business[:4] == ["会员", "权益", "卡券", "门店与核销"], texts
    assert "风控与合作方接入" in texts[system_at + 1 :], texts
    assert offline == []


def test_an_unknown_console_address_shows_the_console_404_in_chinese(
    zh_page, live_server, operator_user, offline
):
    page = zh_page
    sign_in(page, live_server)

    response = page.goto(f"{live_server.url}/admin/vouchers/nosuchmodel/")

    assert response.status == 404
    expect(page.locator("#site-name")).to_contain_text("权益运营控制台")
    expect(page.locator("#content h1")).to_have_text("页面没有找到")
    page.get_by_role("link", name="返回控制台首页").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("h2.console-section-system")).to_be_visible()
    assert offline == []
