"""The partner API's docs page as a partner developer uses it, with no network beyond
the server: the Authorize dialog explains the header, a pasted bare key works for "Try
it out", and an operation shows the problem codes it can answer."""

import pytest
from playwright.sync_api import expect

from members.services import member_upsert
from tests.riskcontrol.factories import partner_client_with_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_authorize_with_the_bare_key_and_try_a_call(page, live_server, offline):
    member_upsert(external_id="M1", name="Ada")
    _client, raw_key = partner_client_with_key(scopes=["members:read"])

    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".btn.authorize").first.click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_contain_text("Api-Key <key>")
    expect(dialog).to_contain_text("just the key")
    dialog.locator("input").first.fill(raw_key)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()

    operation = page.locator("#operations-members-members_retrieve")
    operation.locator(".opblock-summary").click()
    expect(operation).to_contain_text("Scope: members:read")
    # The error responses of the operation name their codes.
    expect(operation.locator(".responses-table")).to_contain_text("not_found")
    expect(operation.locator(".responses-table")).to_contain_text("unauthenticated")
    operation.locator(".try-out__btn").click()
    operation.locator("input[placeholder='external_id']").fill("M1")
    operation.locator(".execute").click()

    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_contain_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"external_id": "M1"')
    assert offline == []
