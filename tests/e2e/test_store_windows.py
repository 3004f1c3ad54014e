# ruff: noqa: RUF001 - the en dash in the shown windows is what the tests look for
"""Chinese time windows from the console to the till, and the clerk's page between scans,
in a real browser (Debian's Chromium) speaking zh-CN."""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from redemption.models import BatchRedemptionRule, Redemption
from tests.redemption.factories import claimed_code, make_staff, make_store

pytestmark = pytest.mark.django_db(transaction=True)
CHINESE_PHONE = {
    "locale": "zh-CN",
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SHOWN = "周一至周五 10:00–22:00；周六、周日 09:00–18:00"
ARTIFACTS = Path(__file__).parent / "artifacts"


def shot(page, name):
    """A screenshot for review, with the code box blacked out (no code in test output)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"{name}.png"), full_page=True, mask=[page.locator("#id_code")]
    )


def operator_signs_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")


def clerk_signs_in(page, live_server, username="clerk"):
    page.goto(f"{live_server.url}/store/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-staff-123")
    page.click("button[type=submit]")
    expect(page.locator("#current-store")).to_contain_text("S001")


@pytest.fixture
def store():
    return make_store("S001", name="南京西路店")


def test_an_operator_sets_a_chinese_window_and_the_clerk_reads_it_in_chinese(
    browser, live_server, operator_user, store
):
    make_staff("clerk", store)
    claim = claimed_code(batch_code="LUNCH", name="午市立减10元")
    batch = claim.voucher.batch

    # the operator, in Chinese, adds the batch's redemption rule with a Chinese window
    console = browser.new_context(locale="zh-CN")
    page = console.new_page()
    operator_signs_in(page, live_server)
    page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/{batch.pk}/change/")
    page.locator("#redemption_rule-group .add-row a").click()
    windows = page.locator("#id_redemption_rule-0-windows_text")
    windows.fill("周八 10:00-22:00")
    page.click("input[name=_continue]")
    expect(page.locator("#redemption_rule-group .errorlist")).to_contain_text("“周八”不是星期几")
    assert not BatchRedemptionRule.objects.exists()

    page.locator("#id_redemption_rule-0-windows_text").fill(
        "周一至周五 10:00-22:00；周六,周日 09:00-18:00"
    )
    page.click("input[name=_continue]")

    expect(page.locator(".messagelist")).to_be_visible()
    expect(page.locator("#id_redemption_rule-0-windows_text")).to_have_value(SHOWN)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#redemption_rule-group").screenshot(
        path=str(ARTIFACTS / "console-window-in-chinese.png")
    )
    assert BatchRedemptionRule.objects.get(batch=batch).windows == [
        {"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "22:00"},
        {"days": [5, 6], "start": "09:00", "end": "18:00"},
    ]
    console.close()

    # the clerk, on a phone in Chinese, checks a voucher of that batch
    phone = browser.new_context(**CHINESE_PHONE)
    till = phone.new_page()
    clerk_signs_in(till, live_server)
    till.locator("#id_code").fill(claim.code)
    till.click("#check-button")

    preview = till.locator("#preview")
    expect(preview).to_contain_text("午市立减10元")
    expect(preview).to_contain_text("可用时段")
    expect(preview).to_contain_text(SHOWN)
    shot(till, "store-window-in-chinese")
    phone.close()


def test_a_refusal_keeps_the_code_in_the_box_until_the_next_scan(browser, live_server, store):
    make_staff("clerk", store)
    claim = claimed_code(name="新人立减10元")
    from redemption.services import redemption_create
    from riskcontrol.core.actors import Actor

    redemption_create(store_code="S001", code=claim.code, actor=Actor.system("till"))
    context = browser.new_context(**CHINESE_PHONE)
    page = context.new_page()
    clerk_signs_in(page, live_server)

    # a code that was already redeemed: refused, and the code stays in the box
    page.locator("#id_code").fill(claim.code)
    page.click("#redeem-button")
    result = page.locator("#result")
    expect(result).to_have_attribute("data-code", "already_redeemed")
    expect(result).to_contain_text("南京西路店 (S001)")
    code_kept = page.locator("#id_code").input_value() == claim.code
    assert code_kept, "the refused code is not in the box"
    assert page.url == f"{live_server.url}/store/redeem/"  # posted, never in the URL

    # the result stays while the clerk corrects the code, until the next check
    page.wait_for_timeout(1500)
    expect(result).to_be_visible()
    page.locator("#id_code").press("End")
    expect(result).to_be_visible()

    # a typo is kept as well, with its refusal
    page.locator("#id_code").fill("TYPO-0000-0000")
    page.click("#check-button")
    expect(page.locator("#result")).to_have_attribute("data-code", "not_found")
    expect(page.locator("#result")).to_contain_text("券码无效")
    expect(page.locator("#id_code")).to_have_value("TYPO-0000-0000")
    context.close()


def test_a_minimum_order_voucher_asks_for_the_amount_at_check(browser, live_server, store):
    make_staff("clerk", store)
    claim = claimed_code(name="满50减10", value_type="threshold", min_order_amount=Decimal("50.00"))
    context = browser.new_context(**CHINESE_PHONE)
    page = context.new_page()
    clerk_signs_in(page, live_server)

    # scan (a scanner types and presses Enter: that checks)
    page.locator("#id_code").press_sequentially(claim.code, delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("#preview")).to_contain_text("50.00 CNY")
    expect(page.locator("#amount-prompt")).to_have_text(
        "该卡券要求订单金额至少为 50.00 CNY：请输入订单金额，再点“核销”。"
    )
    expect(page.locator("#id_order_amount")).to_be_focused()
    shot(page, "store-asks-for-the-amount")

    # an amount below the minimum: refused in a sentence, the code stays
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    expect(page.locator("#result")).to_have_attribute("data-code", "below_minimum_order")
    expect(page.locator("#result")).to_contain_text("该卡券要求订单金额至少为 50.00 CNY。")
    code_kept = page.locator("#id_code").input_value() == claim.code
    assert code_kept, "the refused code is not in the box"
    assert not Redemption.objects.exists()
    shot(page, "store-amount-below-minimum")

    # amount, Enter: 核销
    expect(page.locator("#id_order_amount")).to_be_focused()
    page.locator("#id_order_amount").fill("58.00")
    page.keyboard.press("Enter")
    expect(page.locator("#result")).to_have_class("result ok")
    expect(page.locator("#result")).to_contain_text("-10.00 CNY")
    expect(page.locator("#id_code")).to_have_value("")
    redemption = Redemption.objects.get()
    assert redemption.order_amount == Decimal("58.00")
    context.close()


def test_without_javascript_check_still_asks_for_the_amount_and_a_refusal_keeps_the_code(
    browser, live_server, store
):
    make_staff("clerk", store)
    claim = claimed_code(name="满50减10", value_type="threshold", min_order_amount=Decimal("50.00"))
    context = browser.new_context(**CHINESE_PHONE, java_script_enabled=False)
    page = context.new_page()
    clerk_signs_in(page, live_server)

    page.locator("#id_code").fill(claim.code)
    page.click("#check-button")
    expect(page.locator("#amount-prompt")).to_be_visible()
    expect(page.locator("#id_order_amount")).to_be_focused()  # autofocus, no script
    page.click("#redeem-button")  # no amount: refused, the code stays
    expect(page.locator("#result")).to_have_attribute("data-code", "below_minimum_order")
    code_kept = page.locator("#id_code").input_value() == claim.code
    assert code_kept, "the refused code is not in the box"

    page.locator("#id_order_amount").fill("50")
    page.click("#redeem-button")
    expect(page.locator("#result")).to_have_class("result ok")
    assert Redemption.objects.get().order_amount == Decimal("50.00")
    context.close()
