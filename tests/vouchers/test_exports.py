"""Exports: voucher lists without codes for viewers; codes only with export_secrets."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from import_export.formats.base_formats import CSV, XLSX
from tablib import Dataset

from members.models import Member
from members.resources import MemberResource
from members.selectors import member_phone
from redemption.models import Store
from redemption.resources import StoreResource
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.models import BatchEvent, Voucher, VoucherEvent
from vouchers.resources import VoucherExportResource
from vouchers.secrets import reveal_code

pytestmark = pytest.mark.django_db


def test_voucher_export_has_no_codes():
    batch = make_batch(quantity=3, code="EXP")
    codes = [reveal_code(v) for v in Voucher.objects.filter(batch=batch)]

    exported = VoucherExportResource().export(Voucher.objects.filter(batch=batch)).csv

    assert "EXP-000001" in exported
    assert (
        exported.splitlines()[0]
        == "serial,batch,supplier_serial,status,member,claimed_at,redeemed_at,expires_at"
    )
    assert not [c for c in codes if c in exported or c.replace("-", "") in exported]


def test_viewers_reach_the_voucher_export_page(console_client):
    assert console_client("Auditor").get("/admin/vouchers/voucher/export/").status_code == 200


@pytest.fixture
def stock_with_tricky_codes():
    from riskcontrol.core.actors import Actor

    batch = make_batch(quantity=None, kind="card_secret", code="TRICKY")
    data = b"code\n=SUM(A1)\n-AB12\n+CD34\n@EF56\nPLAIN-1\n"
    card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="t.csv", actor=Actor.system()
    )
    return batch


def post_export(client, batch, **extra):
    return client.post(
        "/admin/vouchers/voucherbatch/",
        {"action": "export_codes", "_selected_action": [batch.pk], **extra},
    )


def test_export_with_codes_needs_the_permission(console_client, stock_with_tricky_codes):
    operator = console_client("Operator")

    page = operator.get("/admin/vouchers/voucherbatch/")
    post_export(operator, stock_with_tricky_codes, confirmed="yes", reason="distributor order")

    assert "export_codes" not in dict(page.context["action_form"].fields["action"].choices)
    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_export_with_codes_asks_why_records_it_and_escapes_formulas(
    console_client, stock_with_tricky_codes
):
    custodian = console_client("Operator")
    User.objects.get(username="operator-user").groups.add(
        Group.objects.get(name="Secret custodian")
    )

    asked = post_export(custodian, stock_with_tricky_codes)
    response = post_export(
        custodian, stock_with_tricky_codes, confirmed="yes", reason="distributor order 42"
    )

    assert "Export codes in clear?" in asked.content.decode()
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0] == "serial,supplier_serial,code,status,expires_at"
    codes = [line.split(",")[2] for line in lines[1:]]
    assert codes == ["'=SUM(A1)", "'-AB12", "'+CD34", "'@EF56", "PLAIN-1"]
    # one export event for the batch, with the count (not one reveal event per code)
    event = BatchEvent.objects.get(action="export_codes", context__reason="distributor order 42")
    assert (event.batch_id, event.context["count"]) == (stock_with_tricky_codes.pk, 5)
    assert not VoucherEvent.objects.filter(action="reveal").exists()
    assert "no-store" in response["Cache-Control"]


def test_members_import_through_the_service_and_export_masked():
    dataset = Dataset(headers=["external_id", "name", "phone", "email", "tier", "tags"])
    dataset.append(["IMP-1", "导入会员", "139 1234 5678", "imp@example.com", "", "新客,vip"])

    result = MemberResource().import_data(dataset, dry_run=False)

    assert not result.has_errors(), [row.errors for row in result.rows]
    member = Member.objects.get(external_id="IMP-1")
    assert member_phone(member) == "13912345678"
    assert sorted(member.tags.values_list("code", flat=True)) == ["vip", "新客"]
    exported = MemberResource().export().csv
    assert "139****5678" in exported
    assert "13912345678" not in exported
    assert "i***@example.com" in exported


def test_stores_import_and_export():
    dataset = Dataset(headers=["code", "name", "address", "group", "active"])
    dataset.append(["SH01", "上海一店", "南京西路", "上海", "1"])

    StoreResource().import_data(dataset, dry_run=False)
    StoreResource().import_data(dataset, dry_run=False)  # again: updates, no duplicate

    assert Store.objects.get().name == "上海一店"
    assert "SH01,上海一店" in StoreResource().export().csv


@pytest.mark.django_db(transaction=True)
def test_a_dump_after_a_cli_import_holds_none_of_the_codes(tmp_path):
    from django.core.management import call_command

    from tests.utils import dump_database

    make_batch(quantity=None, kind="card_secret", code="CLIDUMP")
    codes = [f"CLI-DUMP-{i:04d}-ZZ" for i in range(50)]
    path = tmp_path / "cli.csv"
    path.write_text("code\n" + "\n".join(codes) + "\n")
    call_command("import_card_stock", str(path), "--batch", "CLIDUMP", stdout=io.StringIO())

    dump = dump_database()

    assert "CLIDUMP-000050" in dump
    assert not [c for c in codes if c in dump]


# --- Formula injection: every CSV and spreadsheet we write (issue 9, item 15) -----------

FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)"]


def exported_cells(resource, queryset=None):
    """The cells of a resource's export as the admin writes them, CSV and XLSX."""
    from openpyxl import load_workbook

    dataset = resource.export(queryset) if queryset is not None else resource.export()
    csv_text = CSV().export_data(dataset)
    csv_cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    workbook = load_workbook(io.BytesIO(XLSX().export_data(dataset)))
    xlsx_cells = [
        (cell.value, cell.data_type) for row in workbook.active.iter_rows() for cell in row
    ]
    return csv_cells, xlsx_cells


def assert_neutralised(cells, values):
    csv_cells, xlsx_cells = cells
    for value in values:
        assert f"'{value}" in csv_cells, (value, csv_cells)
        assert value not in csv_cells
        assert (f"'{value}", "s") in xlsx_cells, (value, xlsx_cells)
        assert not [v for v, kind in xlsx_cells if kind == "f"]


def test_member_export_neutralises_all_four_formula_starts():
    from members.services import member_upsert

    for i, formula in enumerate(FORMULAS):
        member_upsert(external_id=f"F{i}", name=formula)

    assert_neutralised(exported_cells(MemberResource()), FORMULAS)


def test_store_export_neutralises_all_four_formula_starts():
    from redemption.services import store_upsert

    store_upsert(code="F1", name="+1+2", address="-1+2", group="@SUM(A1)")
    store_upsert(code="F2", name="=1+2")

    assert_neutralised(exported_cells(StoreResource()), FORMULAS)


def test_voucher_list_export_neutralises_supplier_serials_and_members():
    from members.services import member_upsert
    from riskcontrol.core.actors import Actor
    from vouchers.services import voucher_claim

    batch = make_batch(quantity=None, kind="card_secret", code="FSER")
    data = b"serial,code\n+1+2,CODE-0001-AAAA\n-1+2,CODE-0002-BBBB\n@SUM(A1),CODE-0003-CCCC\n"
    card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="f.csv", actor=Actor.system()
    )
    batch.refresh_from_db()
    batch.status = "active"
    batch.save(update_fields=["status"])
    member_upsert(external_id="=1+2")
    voucher_claim(batch_code="FSER", member_external_id="=1+2", actor=Actor.system())

    cells = exported_cells(VoucherExportResource(), Voucher.objects.filter(batch=batch))

    assert_neutralised(cells, FORMULAS)


def test_import_report_csv_neutralises_masked_codes(console_client):
    from riskcontrol.core.actors import Actor
    from vouchers.cardstock import report_csv
    from vouchers.models import CardStockImport

    batch = make_batch(quantity=None, kind="card_secret", code="FREP")
    data = "code\n" + "".join(f"{start}ABCDEFGH\n" * 2 for start in "-+@=")
    report = card_stock_import(
        batch=batch,
        open_file=lambda: io.BytesIO(data.encode()),
        file_name="dupes.csv",
        actor=Actor.system(),
        dry_run=True,
    )
    masked = [issue.masked_code for issue in report.issues]
    assert {m[0] for m in masked} == {"-", "+", "@", "="}

    issues = [vars(issue) for issue in report.issues]
    cells = [row[3] for row in csv.reader(io.StringIO(report_csv(issues)))][1:]
    job = CardStockImport.objects.create(
        batch=batch,
        file_name="dupes.csv",
        report={"issues": [vars(issue) for issue in report.issues]},
    )
    page = console_client("Operator").get(f"/admin/vouchers/cardstockimport/{job.pk}/report.csv/")
    assert page.status_code == 200
    page_cells = [row[3] for row in csv.reader(io.StringIO(page.content.decode("utf-8-sig")))][1:]

    assert cells == page_cells == [f"'{m}" for m in masked]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1", "'=1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A", "'@A"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (None, None),
        (-5, -5),
    ],
)
def test_the_one_spreadsheet_helper(value, written):
    from riskcontrol.core.spreadsheets import spreadsheet_safe

    assert spreadsheet_safe(value) == written
