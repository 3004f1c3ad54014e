"""The text the console's JavaScript writes (the store picker of filter_horizontal, the
calendar and the clock) is Chinese for a zh-CN browser: Django's own zh_Hans catalog lacks
Django 5.2's strings, the console's catalog (locale/zh_Hans/djangojs.po) fills them in."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.redemption.factories import make_store

pytestmark = pytest.mark.django_db(transaction=True)
ENGLISH = re.compile(r"\b[A-Za-z]{3,}\b")


@pytest.fixture
def zh_page(browser, live_server):
    User.objects.create_superuser("root", password="pw-root-12345")
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-hans"})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-12345")
    page.click("input[type=submit]")
    yield page
    context.close()


def test_store_picker_calendar_and_clock_speak_chinese(zh_page, live_server):
    make_store("S001", name="南京西路店")
    page = zh_page
    page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/add/")
    page.locator(".add-row a").first.click()

    picker = page.locator(".selector").first
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name="全选门店")).to_be_visible()
    expect(picker.get_by_role("button", name="移除所选门店")).to_be_visible()
    assert not ENGLISH.findall(picker.inner_text().replace("S001", ""))

    page.locator("a[id^=calendarlink]").first.click()
    calendar = page.locator(".calendarbox >> visible=true")
    expect(calendar).to_be_visible()
    weekdays = calendar.locator("th").all_inner_texts()
    assert weekdays == ["一", "二", "三", "四", "五", "六", "日"]
    assert not ENGLISH.findall(calendar.inner_text())

    page.keyboard.press("Escape")
    page.locator("a[id^=clocklink]").first.click()
    clock = page.locator(".clockbox >> visible=true")
    expect(clock).to_be_visible()
    assert not ENGLISH.findall(clock.inner_text())
