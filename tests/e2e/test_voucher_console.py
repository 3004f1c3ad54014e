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

    # sign in and paste the code (lower case, spaces instead of dashes) into "Find by code"
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/vouchers/voucher/")
    page.fill("#id_code", claimed.code.lower().replace("-", " "))
    page.click("#find-by-code input[type=submit]")

    expect(page.locator("h2").first).to_contain_text(claimed.voucher.serial)
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
