"""A voucher's own expiry survives its claim, and a date alone means the end of that day
in the platform time zone (issue 9, item 2)."""

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from openpyxl import Workbook

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.test_admin import add_form
from vouchers.cardstock import card_stock_import
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import voucher_batch_create, voucher_claim

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_JUNE_30 = dt.datetime(2027, 6, 30, 23, 59, 59, 999999, tzinfo=SHANGHAI)


def _stock_batch(code="STOCK", **rules):
    return voucher_batch_create(
        code=code,
        name="Card stock",
        kind="card_secret",
        face_value=Decimal("50.00"),
        activate=True,
        actor=ACTOR,
        **rules,
    )


def _import(batch, *lines):
    data = "\n".join(["code,expires_at", *lines]).encode()
    report = card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="s.csv", actor=ACTOR
    )
    assert report.imported == len(lines), report.as_dict()


def _claim(batch):
    member_upsert(external_id="M1")
    return voucher_claim(batch_code=batch.code, member_external_id="M1", actor=ACTOR).voucher


def test_a_claim_keeps_an_imported_vouchers_expiry():
    batch = _stock_batch()
    _import(batch, "SUP-0001,2027-06-30")

    claimed = _claim(batch)

    stored = Voucher.objects.get(pk=claimed.pk)
    assert stored.expires_at == END_OF_JUNE_30
    assert claimed.expires_at == END_OF_JUNE_30


def test_a_claim_does_not_replace_an_earlier_own_expiry_with_the_batchs_later_end():
    batch = _stock_batch(valid_until=dt.datetime(2030, 12, 31, 23, 59, tzinfo=SHANGHAI))
    _import(batch, "SUP-0001,2027-06-30")

    claimed = _claim(batch)

    assert Voucher.objects.get(pk=claimed.pk).expires_at == END_OF_JUNE_30


def test_a_days_from_claim_rule_may_shorten_the_own_expiry():
    batch = _stock_batch(valid_days=7)
    _import(batch, "SUP-0001,2027-06-30")

    claimed = _claim(batch)

    stored = Voucher.objects.get(pk=claimed.pk)
    assert stored.expires_at == stored.claimed_at + dt.timedelta(days=7)


def test_a_date_in_the_file_is_the_end_of_that_day_in_the_platform_time_zone():
    batch = _stock_batch()
    _import(batch, "SUP-0001,2027-06-30", "SUP-0002,2027/06/30", "SUP-0003,20270630")

    expiries = set(Voucher.objects.filter(batch=batch).values_list("expires_at", flat=True))

    assert expiries == {END_OF_JUNE_30}


def test_a_date_with_a_time_in_the_file_keeps_its_time():
    batch = _stock_batch()
    _import(batch, "SUP-0001,2027-06-30 18:00")

    stored = Voucher.objects.get(batch=batch)

    assert stored.expires_at == dt.datetime(2027, 6, 30, 18, 0, tzinfo=SHANGHAI)


def test_a_date_cell_in_a_spreadsheet_is_the_end_of_that_day():
    batch = _stock_batch()
    book = Workbook()
    book.active.append(["code", "expires_at"])
    book.active.append(["SUP-0001", dt.datetime(2027, 6, 30)])  # how a date cell reads
    out = io.BytesIO()
    book.save(out)

    card_stock_import(
        batch=batch,
        open_file=lambda: io.BytesIO(out.getvalue()),
        file_name="s.xlsx",
        actor=ACTOR,
    )

    assert Voucher.objects.get(batch=batch).expires_at == END_OF_JUNE_30


def test_cli_valid_until_given_as_a_date_is_the_end_of_that_day():
    call_command(
        "create_batch",
        "--code=CLIDATE",
        "--name=CLI date",
        "--kind=card_secret",
        "--face-value=10",
        "--valid-from=2026-01-01",
        "--valid-until=2030-12-31",
        stdout=io.StringIO(),
    )

    batch = VoucherBatch.objects.get(code="CLIDATE")
    assert batch.valid_until == dt.datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert batch.valid_from == dt.datetime(2026, 1, 1, tzinfo=SHANGHAI)


def test_cli_valid_until_with_a_time_keeps_it():
    call_command(
        "create_batch",
        "--code=CLITIME",
        "--name=CLI time",
        "--kind=card_secret",
        "--face-value=10",
        "--valid-until=2030-12-31T12:00+08:00",
        stdout=io.StringIO(),
    )

    batch = VoucherBatch.objects.get(code="CLITIME")
    assert batch.valid_until == dt.datetime(2030, 12, 31, 12, 0, tzinfo=SHANGHAI)


def test_console_valid_until_given_as_a_date_alone_is_the_end_of_that_day(console_client):
    response = console_client("Operator").post(
        "/admin/vouchers/voucherbatch/add/",
        add_form(
            code="CONSOLEDATE",
            valid_days="",
            valid_from_0="2026-01-01",
            valid_from_1="",
            valid_until_0="2030-12-31",
            valid_until_1="",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    batch = VoucherBatch.objects.get(code="CONSOLEDATE")
    assert batch.valid_until == dt.datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert batch.valid_from == dt.datetime(2026, 1, 1, tzinfo=SHANGHAI)


def test_the_import_report_says_what_a_date_alone_means(console_client, settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    batch = _stock_batch()
    operator = console_client("Operator")
    upload = SimpleUploadedFile("s.csv", b"code,expires_at\nSUP-0001,2027-06-30\n")

    uploaded = operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": upload})
    report = operator.get(uploaded["Location"]).content.decode()

    assert "means the end of that day (23:59:59.999999)" in report
    assert "Asia/Shanghai" in report
