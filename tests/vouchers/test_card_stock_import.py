"""Card-stock import: the report, encodings, all-or-nothing, re-import, CLI."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.cardstock import service as cardstock
from vouchers.models import CardStockImport, Voucher
from vouchers.secrets import reveal_code

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
LONG = "X" * 129

FAULTY = [
    "code,serial,expires_at,face_value,cost,region",
    "GOOD-0001,SN1,2027-12-31,50.00,45.00,上海",  # row 2: accepted
    "GOOD-0002,SN2,,,,",  # 3: accepted
    "GOOD-0001,SN3,,,,",  # 4: duplicate in file
    "EXIST-0001,SN4,,,,",  # 5: already in another batch
    ",SN5,,,,",  # 6: empty
    f"{LONG},SN6,,,,",  # 7: too long
    "BAD CODE,SN7,,,,",  # 8: illegal characters (space)
    "GOOD-0003,SN8,2027-13-45,,,",  # 9: bad date
    "GOOD-0004,SN9,2020-01-01,,,",  # 10: expired
    "GOOD-0005,SN10,,abc,,",  # 11: bad amount
    "GOOD-0006,SN1,,,,",  # 12: serial repeated in file
    "卡密中文,SN11,,,,",  # 13: illegal characters
    "GOOD-0007,SN12,,-1,,",  # 14: negative amount
]
EXPECTED_ISSUES = [
    (4, "duplicate_in_file"),
    (5, "already_in_database"),
    (6, "empty"),
    (7, "too_long"),
    (8, "illegal_characters"),
    (9, "bad_date"),
    (10, "expired"),
    (11, "bad_amount"),
    (12, "bad_serial"),
    (13, "illegal_characters"),
    (14, "bad_amount"),
]


@pytest.fixture
def stock_batch():
    return make_batch(quantity=None, kind="card_secret", code="STOCK")


@pytest.fixture
def existing_code():
    other = make_batch(quantity=None, kind="card_secret", code="OTHER")
    _write_stock(other, ["code", "EXIST-0001"])
    return "EXIST-0001"


def _write_stock(batch, lines, **kwargs):
    data = "\n".join(lines).encode()
    return card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="x.csv", actor=ACTOR, **kwargs
    )


def run(batch, data: bytes, **kwargs):
    return card_stock_import(
        batch=batch,
        open_file=lambda: io.BytesIO(data),
        file_name="stock.csv",
        actor=ACTOR,
        **kwargs,
    )


def utf8(lines):
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_file_with_planted_faults_gives_exactly_the_expected_report(stock_batch, existing_code):
    before = Voucher.objects.count()

    report = run(stock_batch, utf8(FAULTY), dry_run=True)

    assert (report.rows_total, report.accepted, report.rejected) == (13, 2, 11)
    assert [(issue.row, issue.kind) for issue in report.issues] == EXPECTED_ISSUES
    assert report.counts == {
        "accepted": 2,
        "duplicate_in_file": 1,
        "already_in_database": 1,
        "empty": 1,
        "too_long": 1,
        "illegal_characters": 2,
        "bad_date": 1,
        "expired": 1,
        "bad_amount": 2,
        "bad_serial": 1,
    }
    assert report.issues[0].masked_code == "GO****01"
    assert Voucher.objects.count() == before  # a dry run writes nothing
    assert "GOOD-0001" not in json.dumps(report.as_dict())


def test_rejected_rows_block_the_import_unless_skipped(stock_batch, existing_code):
    blocked = run(stock_batch, utf8(FAULTY))
    assert blocked.blocked
    assert not stock_batch.vouchers.exists()

    job = CardStockImport.objects.create(batch=stock_batch, file_name="stock.csv")
    done = run(stock_batch, utf8(FAULTY), skip_rejected=True, import_job=job)

    assert done.imported == 2
    first, second = stock_batch.vouchers.order_by("sequence")
    assert (first.serial, first.supplier_serial, first.region) == ("STOCK-000001", "SN1", "上海")
    assert (first.face_value, first.cost) == (Decimal("50.00"), Decimal("45.00"))
    # "2027-12-31" is the end of that day in the platform time zone
    assert first.expires_at == dt.datetime(
        2027, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    assert first.import_job == second.import_job == job
    assert [reveal_code(v) for v in (first, second)] == ["GOOD-0001", "GOOD-0002"]


def test_gbk_file_with_chinese_headers(stock_batch):
    data = "卡密,卡号,有效期,面值\nGBK-0001,卡号一,2027/06/30,30\nGBK-0002,卡号二,,\n".encode("gbk")

    report = run(stock_batch, data)

    assert (report.encoding, report.accepted, report.imported) == ("gb18030", 2, 2)
    assert stock_batch.vouchers.get(supplier_serial="卡号一").face_value == Decimal("30.00")


def test_utf8_file_with_a_bom(stock_batch):
    data = "\ufeffcode,serial\nBOM-0001,A\nBOM-0002,B\n".encode()

    report = run(stock_batch, data)

    assert (report.encoding, report.imported) == ("utf-8-sig", 2)
    assert reveal_code(stock_batch.vouchers.order_by("sequence").first()) == "BOM-0001"


def test_xlsx_file(stock_batch, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["卡密", "卡号", "有效期", "面值"])
    sheet.append(["XLSX-0001", "S-1", dt.datetime(2027, 1, 31, 23, 59), 10])
    sheet.append([123456789012, "S-2", None, 12.5])  # a code typed as a number
    sheet.append([None, None, None, None])  # blank line at the end
    path = tmp_path / "stock.xlsx"
    workbook.save(path)

    report = card_stock_import(
        batch=stock_batch, open_file=lambda: path.open("rb"), file_name="stock.xlsx", actor=ACTOR
    )

    assert (report.file_format, report.rows_total, report.imported) == ("xlsx", 2, 2)
    codes = sorted(reveal_code(v) for v in stock_batch.vouchers.all())
    assert codes == ["123456789012", "XLSX-0001"]


def test_a_file_without_a_code_column_is_refused(stock_batch):
    from riskcontrol.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as raised:
        run(stock_batch, b"serial,region\nA,B\n")

    assert "file" in raised.value.errors


def test_a_failure_in_the_middle_of_the_commit_leaves_no_voucher(stock_batch, monkeypatch):
    monkeypatch.setattr(cardstock, "WRITE_CHUNK", 3)
    lines = ["code"] + [f"MID-{i:04d}" for i in range(10)]

    def crash(stage, done, total):
        if stage == "importing" and done >= 6:
            raise RuntimeError("worker killed mid-import")

    with pytest.raises(RuntimeError):
        run(stock_batch, utf8(lines), on_progress=crash)

    assert not Voucher.objects.filter(batch=stock_batch).exists()


def test_importing_the_same_file_again_adds_nothing(stock_batch):
    lines = ["code"] + [f"AGAIN-{i:03d}" for i in range(20)]
    run(stock_batch, utf8(lines))

    again = run(stock_batch, utf8(lines), skip_rejected=True)

    assert again.imported == 0
    assert again.counts == {"already_in_database": 20}
    assert stock_batch.vouchers.count() == 20


def test_only_empty_card_secret_batches_take_card_stock():
    from riskcontrol.core.errors import ValidationFailed

    generated = make_batch(quantity=1)

    with pytest.raises(ValidationFailed):
        run(generated, utf8(["code", "A-1"]))


def write_file(tmp_path, lines, name="stock.csv"):
    path = tmp_path / name
    path.write_bytes(utf8(lines))
    return path


def cli(*args):
    out = io.StringIO()
    try:
        call_command("import_card_stock", *map(str, args), stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_cli_dry_run_exit_status(stock_batch, tmp_path):
    clean = write_file(tmp_path, ["code", "CLI-1", "CLI-2"], "clean.csv")
    faulty = write_file(tmp_path, ["code", "CLI-1", "CLI-1"], "faulty.csv")

    assert cli(clean, "--batch", "STOCK", "--dry-run")[0] == 0
    status, output = cli(faulty, "--batch", "STOCK", "--dry-run")

    assert status == 1
    assert "duplicate_in_file" in output
    assert "CLI-1" not in output
    assert not stock_batch.vouchers.exists()


def test_cli_import_exit_status_and_json(stock_batch, tmp_path):
    good = write_file(tmp_path, ["code", "CLI-1", "CLI-2"])

    status, output = cli(good, "--batch", "STOCK", "--format", "json")
    again_status, again_output = cli(good, "--batch", "STOCK")

    assert status == 0
    assert json.loads(output)["imported"] == 2
    assert again_status == 1
    assert "Blocked" in again_output
    job = CardStockImport.objects.order_by("pk").first()
    assert (job.status, job.rows_imported) == ("imported", 2)


def test_cli_reports_a_missing_batch(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No batch"):
        cli(write_file(tmp_path, ["code", "A"]), "--batch", "NOPE")
