"""Third-party card secrets are stored and shown exactly as delivered (issue 9, item 1)."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.vouchers.test_admin import add_form
from vouchers.cardstock import card_stock_import
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import (
    voucher_batch_create,
    voucher_claim,
    voucher_reveal,
    vouchers_export_codes,
)

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
# 16 characters with O, I, l and lower case: the Crockford reading would fold and group it.
SUPPLIER_CODE = "Ab0O-I1lx-9999-zzzz"


def _import(batch, *codes):
    data = "\n".join(["code", *codes]).encode()
    return card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="s.csv", actor=ACTOR
    )


def test_the_console_offers_no_code_format_to_choose(console_client):
    page = console_client("Operator").get("/admin/vouchers/voucherbatch/add/").content.decode()

    assert 'name="kind"' in page
    assert 'name="code_format"' not in page


def test_a_card_secret_batch_made_in_the_console_keeps_supplier_codes_exactly(console_client):
    # given: the add form posted as a browser sends it, code format at the value it showed
    response = console_client("Operator").post(
        "/admin/vouchers/voucherbatch/add/",
        add_form(code="WHOLESALE", kind="card_secret", quantity="", code_format="crockford"),
    )
    assert response.status_code == 302
    batch = VoucherBatch.objects.get(code="WHOLESALE")
    assert batch.code_format == VoucherBatch.CodeFormat.EXACT

    # when
    report = _import(batch, SUPPLIER_CODE)
    member_upsert(external_id="M1")
    claim = voucher_claim(batch_code="WHOLESALE", member_external_id="M1", actor=ACTOR)

    # then: claim, reveal and export all give the code as delivered
    assert report.imported == 1
    assert claim.code == SUPPLIER_CODE
    assert voucher_reveal(voucher=claim.voucher, actor=ACTOR) == SUPPLIER_CODE
    rows = list(
        vouchers_export_codes(
            vouchers=Voucher.objects.filter(batch=batch), actor=ACTOR, reason="supplier check"
        )
    )
    assert rows[1][2] == SUPPLIER_CODE


def test_a_card_secret_batch_cannot_be_given_the_crockford_format():
    with pytest.raises(ValidationFailed) as refused:
        voucher_batch_create(
            code="FOLDED",
            name="Folded card secrets",
            kind="card_secret",
            face_value=Decimal("10.00"),
            code_format="crockford",
            actor=ACTOR,
        )

    assert "exact" in refused.value.errors["code_format"][0]
    assert not VoucherBatch.objects.filter(code="FOLDED").exists()


def test_importing_into_a_batch_whose_format_would_change_codes_is_refused_with_the_reason():
    # given: a card-secret batch left with the Crockford reading (made before this rule)
    batch = voucher_batch_create(
        code="OLDSTOCK", name="Old stock", kind="card_secret", face_value=Decimal("10"), actor=ACTOR
    )
    VoucherBatch.objects.filter(pk=batch.pk).update(code_format=VoucherBatch.CodeFormat.CROCKFORD)
    batch.refresh_from_db()

    # when
    with pytest.raises(ValidationFailed) as refused:
        _import(batch, SUPPLIER_CODE)

    # then
    assert "would change the suppliers' codes" in refused.value.errors["batch"][0]
    assert not Voucher.objects.filter(batch=batch).exists()


def test_the_upload_page_says_why_such_a_batch_takes_no_card_stock(console_client):
    batch = voucher_batch_create(
        code="OLDSTOCK2", name="Old stock", kind="card_secret", face_value=Decimal("1"), actor=ACTOR
    )
    VoucherBatch.objects.filter(pk=batch.pk).update(code_format=VoucherBatch.CodeFormat.CROCKFORD)

    page = console_client("Operator").get(f"/admin/vouchers/voucherbatch/{batch.pk}/import/")

    assert "would change the suppliers" in page.content.decode()


def test_the_cli_refuses_a_card_secret_batch_with_the_crockford_format():
    with pytest.raises(CommandError, match="code_format"):
        call_command(
            "create_batch",
            "--code=CLIFOLD",
            "--name=Folded",
            "--kind=card_secret",
            "--face-value=10",
            "--code-format=crockford",
            stdout=io.StringIO(),
        )

    assert not VoucherBatch.objects.filter(code="CLIFOLD").exists()
