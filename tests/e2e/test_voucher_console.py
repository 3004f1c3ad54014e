import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import VoucherBatch, VoucherEvent
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_finds_a_voucher_by_pasted_code_reveals_it_and_freezes_its_batch(
    page, live_server, operator_user, offline
):
    operator_user.groups.add(Group.objects.get(name="Secret custodian"))
    member_upsert(external_id="M1")
    make_batch(quantity=5, code="LEAK", per_member_limit=None)
    claimed = voucher_claim(batch_code="LEAK", member_external_id="M1", actor=Actor.system())

    # sign in and paste the code (lower case, spaces instead of dashes) into the search box
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/vouchers/voucher/")
    page.fill("#searchbar", claimed.code.lower().replace("-", " "))
    page.click("#changelist-search input[type=submit]")

    expect(page.locator("#content h2").first).to_contain_text(claimed.voucher.serial)
    assert claimed.code not in page.url

    # reveal it with a reason
    page.click("#reveal-link")
    page.fill("#id_reason", "member lost the SMS")
    page.click("input[type=submit][value=Reveal]")
    expect(page.locator("#revealed-code")).to_have_text(claimed.code)

    # the reveal is in the voucher's event list
    page.click("text=Done")
    events = page.locator("#events-group")
    expect(events).to_contain_text("code revealed")
    expect(events).to_contain_text("member lost the SMS")

    # freeze its batch from the batch list, with a reason
    page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/")
    page.locator("tr", has_text="LEAK").locator("input.action-select").check()
    page.select_option("select[name=action]", "freeze")
    page.click("button[name=index]")
    page.fill("#id_reason", "codes posted on a forum")
    page.click("input[type=submit][value='Yes, freeze']")

    expect(page.locator(".messagelist")).to_contain_text("LEAK: 5 frozen.")
    assert VoucherBatch.objects.get(code="LEAK").frozen
    assert VoucherEvent.objects.filter(
        action="reveal", context__reason="member lost the SMS"
    ).exists()
    assert offline == []


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")


def test_operator_pastes_a_code_into_the_search_box_and_no_request_line_or_log_holds_it(
    browser, live_server, operator_user, caplog
):
    """zh-CN. The list's one search box finds a voucher by its pasted code; every request
    the browser made (the lines an access log writes: method, path and query, referer)
    and every log record of the run are free of the code, in any of its forms."""
    import logging

    from vouchers.secrets import fold_code

    member_upsert(external_id="M-PASTE")
    make_batch(quantity=5, code="PASTE", per_member_limit=None)
    claimed = voucher_claim(batch_code="PASTE", member_external_id="M-PASTE", actor=Actor.system())
    forms = {claimed.code, fold_code(claimed.code), claimed.code.lower(), claimed.code[5:]}
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    request_lines: list[str] = []
    page.on(
        "request",
        lambda request: request_lines.append(
            f"{request.method} {request.url} referer={request.headers.get('referer', '')}"
        ),
    )
    access_log = logging.getLogger("django.server")
    access_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG):
            sign_in(page, live_server)
            page.goto(f"{live_server.url}/admin/vouchers/voucher/")
            expect(page.locator("#searchbar_helptext")).to_contain_text("券码绝不会出现在地址栏中")
            page.fill("#searchbar", claimed.code.lower())
            page.press("#searchbar", "Enter")
            expect(page.locator("#content h2").first).to_contain_text(claimed.voucher.serial)
            expect(page.locator(".field-status")).to_contain_text("已领取")
    finally:
        access_log.removeHandler(caplog.handler)
        context.close()

    assert page.url.endswith(f"/admin/vouchers/voucher/{claimed.voucher.pk}/change/")
    assert any(line.startswith("POST ") and "/voucher/search/" in line for line in request_lines)
    seen = "\n".join([*request_lines, *(record.getMessage() for record in caplog.records)])
    assert not [form for form in forms if form in seen]


def test_batch_page_and_list_show_done_and_the_count_once_generation_ends_without_reload(
    browser, live_server, operator_user
):
    """zh-CN. Both pages are open while the batch waits for its worker; generation then
    runs for real (from the test thread, chunk by chunk) and both pages update by
    themselves: 已完成, the right count and the batch's new status, no reload."""
    from decimal import Decimal

    from vouchers.services import voucher_batch_create, voucher_batch_generate

    batch = voucher_batch_create(
        code="LIVE2K",
        name="实时生成",
        face_value=Decimal("20.00"),
        quantity=2_000,
        activate=True,
        actor=Actor.system("test"),
        generate=False,
    )
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/{batch.pk}/change/")
        listing = context.new_page()
        listing.goto(f"{live_server.url}/admin/vouchers/voucherbatch/")
        expect(page.locator("#batch-status")).to_have_text("草稿")
        expect(page.locator("#generation-label")).to_have_text("等待后台任务")
        expect(listing.locator(".batch-generation")).to_have_text("等待后台任务 0 / 2,000")
        page.evaluate("window.__notReloaded = true")
        listing.evaluate("window.__notReloaded = true")

        voucher_batch_generate(batch_id=batch.pk, chunk_size=500)

        expect(page.locator("#generation-label")).to_have_text("已完成", timeout=15_000)
        expect(page.locator("#generation-count")).to_have_text("2,000 / 2,000")
        expect(page.locator("#batch-status")).to_have_text("启用")
        expect(page.locator(".field-status .readonly")).to_have_text("启用")
        expect(page.locator(".field-generation .readonly")).to_have_text("已完成")
        expect(page.locator('#stock-row [data-status="available"]')).to_have_text("2000")
        expect(listing.locator(".batch-generation")).to_have_text(
            "已完成 2,000 / 2,000", timeout=15_000
        )
        expect(listing.locator("tr", has_text="LIVE2K").locator(".field-status")).to_have_text(
            "启用"
        )
        assert page.evaluate("window.__notReloaded") is True
        assert listing.evaluate("window.__notReloaded") is True
        # nothing stale left (the batch history keeps saying it was created as a draft)
        history = page.locator("#batch-history").inner_text()
        page_text = page.locator("#content").inner_text().replace(history, "")
        assert "草稿" not in page_text and "等待后台任务" not in page_text
    finally:
        context.close()
