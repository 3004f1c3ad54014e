"""The operator's voucher console: lookup by code, reveal, lifecycle actions, roles."""

import pytest

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher, VoucherBatch, VoucherEvent
from vouchers.secrets import reveal_code
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/vouchers/voucher/"


@pytest.fixture
def claimed():
    member_upsert(external_id="M1")
    make_batch(quantity=3, code="CON", per_member_limit=None)
    return voucher_claim(batch_code="CON", member_external_id="M1", actor=Actor.system())


def operator_with_custodian(console_client):
    from django.contrib.auth.models import Group, User

    client = console_client("Operator")
    User.objects.get(username="operator-user").groups.add(
        Group.objects.get(name="Secret custodian")
    )
    return client


def test_find_by_pasted_code_goes_to_the_voucher_without_the_code_in_any_url(
    console_client, claimed
):
    operator = console_client("Operator")
    pasted = claimed.code.lower().replace("-", " ")

    response = operator.post(f"{CHANGELIST}find-by-code/", {"code": pasted})

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{claimed.voucher.pk}/change/"
    assert claimed.code not in response["Location"]


def test_an_unknown_code_says_so_without_echoing_it(console_client, claimed):
    operator = console_client("Operator")

    response = operator.post(f"{CHANGELIST}find-by-code/", {"code": "NOT-A-REAL-CODE"}, follow=True)

    page = response.content.decode()
    assert "No voucher has this code." in page
    assert "NOT-A-REAL-CODE" not in page


def test_find_by_code_does_not_accept_get(console_client, claimed):
    operator = console_client("Operator")

    response = operator.get(f"{CHANGELIST}find-by-code/", {"code": claimed.code})

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST


def test_reveal_without_permission_is_403_and_the_link_is_hidden(console_client, claimed):
    operator = console_client("Operator")

    page = operator.get(f"{CHANGELIST}{claimed.voucher.pk}/change/").content.decode()
    response = operator.post(f"{CHANGELIST}{claimed.voucher.pk}/reveal/", {"reason": "curious"})

    assert 'id="reveal-link"' not in page
    assert response.status_code == 403
    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_reveal_with_a_reason_shows_the_code_once_and_records_it(console_client, claimed):
    custodian = operator_with_custodian(console_client)
    url = f"{CHANGELIST}{claimed.voucher.pk}/reveal/"

    empty = custodian.post(url, {"reason": ""})
    shown = custodian.post(url, {"reason": "member called the hotline"})

    assert "This field is required" in empty.content.decode()
    assert claimed.code in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    event = VoucherEvent.objects.get(action="reveal")
    assert (event.actor_label, event.context["reason"]) == (
        "operator-user",
        "member called the hotline",
    )
    assert (
        claimed.code
        not in custodian.get(f"{CHANGELIST}{claimed.voucher.pk}/change/").content.decode()
    )


def test_auditor_sees_vouchers_but_no_action(console_client, claimed):
    auditor = console_client("Auditor")

    response = auditor.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["action_form"] is None or not [
        choice for choice in response.context["action_form"].fields["action"].choices if choice[0]
    ]
    assert (
        auditor.post(f"{CHANGELIST}{claimed.voucher.pk}/reveal/", {"reason": "x" * 10}).status_code
        == 403
    )


def test_operator_sees_the_lifecycle_actions(console_client, claimed):
    operator = console_client("Operator")

    choices = dict(operator.get(CHANGELIST).context["action_form"].fields["action"].choices)

    assert {"freeze_selected", "unfreeze_selected", "void_selected"} <= set(choices)


def test_bulk_void_asks_for_confirmation_and_a_reason_then_reports(console_client, claimed):
    operator = console_client("Operator")
    voucher_pks = list(Voucher.objects.values_list("pk", flat=True))
    Voucher.objects.filter(pk=voucher_pks[1]).update(status="redeemed", redeemed_at=None)
    form = {"action": "void_selected", "_selected_action": voucher_pks}

    asked = operator.post(CHANGELIST, form)
    no_reason = operator.post(CHANGELIST, {**form, "confirmed": "yes", "reason": ""})
    done = operator.post(CHANGELIST, {**form, "confirmed": "yes", "reason": "leak"}, follow=True)

    assert "Void vouchers?" in asked.content.decode()
    assert "Please say why." in no_reason.content.decode()
    assert Voucher.objects.filter(status="void").count() == 2
    assert "2 voided. Left unchanged: 1 redeemed." in done.content.decode()
    assert VoucherEvent.objects.filter(action="void", context__reason="leak").count() == 2


def test_operator_freezes_a_batch_from_the_batch_list(console_client, claimed):
    operator = console_client("Operator")
    batch = VoucherBatch.objects.get(code="CON")
    form = {
        "action": "freeze",
        "_selected_action": [batch.pk],
        "confirmed": "yes",
        "reason": "leak",
    }

    done = operator.post("/admin/vouchers/voucherbatch/", form, follow=True)

    assert "CON: 3 frozen." in done.content.decode()
    assert VoucherBatch.objects.get(pk=batch.pk).frozen
    page = operator.get(f"/admin/vouchers/voucherbatch/{batch.pk}/change/").content.decode()
    assert "This batch is frozen" in page
    assert "leak" in page  # the batch history


def test_voiding_an_import_from_the_console(console_client):
    operator = console_client("Operator")
    batch = make_batch(quantity=4, kind="card_secret", code="STOCK")
    job = CardStockImport.objects.create(batch=batch, file_name="bad.csv")
    batch.vouchers.update(import_job=job)
    form = {
        "action": "void_vouchers",
        "_selected_action": [job.pk],
        "confirmed": "yes",
        "reason": "leak",
    }

    done = operator.post("/admin/vouchers/cardstockimport/", form, follow=True)

    assert [str(m) for m in done.context["messages"]] == ["bad.csv: 4 voided."]
    assert batch.vouchers.filter(status="void").count() == 4


def test_codes_never_appear_on_list_or_detail_pages(console_client, claimed):
    custodian = operator_with_custodian(console_client)
    codes = [reveal_code(v) for v in Voucher.objects.all()]

    pages = (
        custodian.get(CHANGELIST).content.decode()
        + custodian.get(f"{CHANGELIST}{claimed.voucher.pk}/change/").content.decode()
    )

    assert not [c for c in codes if c in pages or c.replace("-", "") in pages]
