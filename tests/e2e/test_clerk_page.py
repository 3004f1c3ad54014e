"""The clerk's page in a real browser, at a phone-sized viewport and on a desktop."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from redemption.models import Redemption, StoreStaff
from redemption.presentations import presentation_create
from riskcontrol.core.actors import Actor
from tests.redemption.factories import claimed_code, make_staff, make_store

pytestmark = pytest.mark.django_db(transaction=True)
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/store/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-staff-123")
    page.click("button[type=submit]")
    expect(page.locator("#current-store")).to_contain_text("S001")


@pytest.fixture
def store():
    return make_store("S001", name="南京西路店")


def test_clerk_on_a_phone_checks_and_redeems_then_sees_already_redeemed(
    browser, live_server, store
):
    make_staff("clerk", store)
    claim = claimed_code(name="新人立减10元")
    context = browser.new_context(**PHONE)
    page = context.new_page()

    sign_in(page, live_server, "clerk")
    expect(page.locator("#id_code")).to_be_focused()
    page.locator("#id_code").type(claim.code)
    page.click("#check-button")
    expect(page.locator("#preview")).to_contain_text("新人立减10元")
    expect(page.locator("#preview-status")).to_have_text("claimed")
    page.fill("#id_order_amount", "58.00")
    page.click("#redeem-button")

    expect(page.locator("#result")).to_have_class("result ok")
    expect(page.locator("#result")).to_contain_text("-10.00 CNY")
    expect(page.locator("#today")).to_contain_text(claim.voucher.serial)
    shot(page, "clerk-phone-redeemed")

    page.locator("#id_code").type(claim.code)
    page.click("#redeem-button")
    result = page.locator("#result")
    expect(result).to_have_attribute("data-code", "already_redeemed")
    redeemed_at = Redemption.objects.get().redeemed_at
    from django.utils import timezone

    expect(result).to_contain_text(timezone.localtime(redeemed_at).strftime("%Y-%m-%d %H:%M"))
    expect(result).to_contain_text("南京西路店 (S001)")
    shot(page, "clerk-phone-already-redeemed")
    context.close()


def test_a_presentation_token_typed_like_a_scanner_redeems(page, live_server, store):
    make_staff("clerk", store)
    claim = claimed_code()
    token = presentation_create(voucher=claim.voucher, actor=Actor.system()).token

    sign_in(page, live_server, "clerk")
    page.locator("#id_code").press_sequentially(token, delay=5)  # a USB scanner types...
    page.keyboard.press("Enter")  # ...and presses Enter: that checks the code
    expect(page.locator("#preview")).to_contain_text(claim.voucher.serial)
    page.click("#redeem-button")

    expect(page.locator("#result")).to_have_class("result ok")
    assert Redemption.objects.get().method == "token"
    shot(page, "clerk-token-redeemed")


def test_a_manager_reverses_a_redemption(page, live_server, store):
    make_staff("boss", store, StoreStaff.Role.MANAGER)
    claim = claimed_code()
    from redemption.services import redemption_create

    redemption_create(store_code="S001", code=claim.code, actor=Actor.system("till"))

    sign_in(page, live_server, "boss")
    row = page.locator(f"#today tr[data-redemption='{Redemption.objects.get().pk}']")
    row.locator("input[name=reason]").fill("customer returned the item")
    row.locator("button.danger").click()

    expect(page.locator("#result")).to_contain_text("customer returned the item")
    expect(page.locator("#today")).to_contain_text("reversed")
    assert Redemption.objects.get().status == "reversed"
    shot(page, "manager-reversed")


def test_a_scan_that_starts_before_the_page_script_runs_is_kept_whole(page, live_server, store):
    # given: the page's script arrives late (slow network), as a scanner starts typing
    make_staff("clerk", store)
    claim = claimed_code(name="新人立减10元")

    def late_script(route):
        body = route.fetch().text()
        route.fulfill(
            body=f"setTimeout(function () {{ {body} }}, 150);", content_type="text/javascript"
        )

    page.route("**/clerk.js", late_script)
    sign_in(page, live_server, "clerk")

    # when
    page.locator("#id_code").press_sequentially(claim.code, delay=20)
    page.keyboard.press("Enter")

    # then: the script did not select (and so wipe) what had been typed
    expect(page.locator("#preview")).to_contain_text("新人立减10元")
