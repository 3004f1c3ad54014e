"""Hostile and broken card-stock files, through the console upload and the command line:
each ends in a clear refusal or in row errors, never a server error, a stuck job or an
upload left on disk. Parsing is bounded (cell size, columns, expansion, time)."""

import io
import random
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from riskcontrol.actors import Actor
from tests.vouchers import hostile_files as hostile
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db(transaction=True)
CODES = [f"HOSTILE-{i:05d}" for i in range(5)]
PAST_COLUMNS = "has values past column 64"
NOT_XLSX = "The file is not a readable XLSX workbook."


def _csv(text: str) -> bytes:
    return text.encode()


# (id, file name, bytes or a function of nothing, the end: ("failed", words of the reason)
# or ("validated", {report kind: count}), settings to apply)
CASES = [
    ("stale-dimension", "stock.xlsx", lambda: hostile.stale_dimension_workbook(CODES),
     ("validated", {"accepted": 5}), {}),
    ("huge-string-cell", "stock.xlsx",
     lambda: hostile.huge_string_workbook(CODES[:3], 30_000_000),
     ("validated", {"accepted": 3, "too_long": 1}), {}),
    ("value-in-column-104", "stock.xlsx", lambda: hostile.value_in_column("CZ"),
     ("failed", "Row 3 " + PAST_COLUMNS), {}),
    ("2M-cell-row-xlsx", "stock.xlsx", lambda: hostile.wide_row_workbook(2_000_000),
     ("failed", "Row 3 " + PAST_COLUMNS), {}),
    ("shared-string-bomb", "stock.xlsx", lambda: hostile.many_shared_strings_workbook(5_000),
     ("failed", "more than 1000 distinct texts"), {"CARD_STOCK_XLSX_MAX_SHARED_STRINGS": 1000}),
    ("expanding-part", "stock.xlsx", lambda: hostile.huge_string_workbook(CODES[:1], 12_000_000),
     ("failed", "expands to more than 8 MB"), {"CARD_STOCK_XLSX_MAX_PART_BYTES": 8 * 1024 * 1024}),
    ("nul-in-serial-and-region", "stock.csv",
     lambda: _csv("code,serial,region\nNUL-00001,SN\x001,north\nNUL-00002,SN2,no\x00rth\n"
                  "NUL-00003,SN3,south\n"),
     ("validated", {"accepted": 1, "illegal_characters": 2}), {}),
    ("nul-in-xlsx-xml", "stock.xlsx",
     lambda: hostile.xlsx(hostile.sheet_xml(hostile.inline_row(1, "code")
                                            + hostile.inline_row(2, "A\x00B"))),
     ("failed", NOT_XLSX), {}),
    ("random-bytes-named-xlsx", "stock.xlsx", lambda: random.Random(9).randbytes(50_000),
     ("failed", "The file cannot be read"), {}),
    ("zip-header-then-garbage", "stock.xlsx",
     lambda: b"PK\x03\x04" + random.Random(9).randbytes(50_000),
     ("failed", NOT_XLSX), {}),
    ("2M-cell-row-csv", "stock.csv", lambda: _csv("code\nWIDE-1" + "," * 2_000_000 + "x\n"),
     ("failed", "Line 2 of the file is longer than 65536 characters."), {}),
    ("doctype-entities", "stock.xlsx",
     lambda: hostile.xlsx('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaa">]>'
                          f'<worksheet xmlns="{hostile.MAIN}"><sheetData/></worksheet>'),
     ("failed", "document type declaration"), {}),
]  # fmt: skip


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    return tmp_path / "sealed"


def files_under(path):
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


@pytest.mark.parametrize(("name", "file_name", "content", "end", "limits"), CASES,
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_console_upload_of_a_hostile_file_ends_cleanly(
    console_client, upload_dir, settings, name, file_name, content, end, limits
):
    for setting, value in limits.items():
        setattr(settings, setting, value)
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="HOSTILE")

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/",
        {"file": SimpleUploadedFile(file_name, content())},
    )

    job = CardStockImport.objects.get()
    assert response.status_code == 302
    page = operator.get(response["Location"])
    assert page.status_code == 200
    status, expected = end
    assert job.status == status
    if status == "failed":
        assert expected in job.error
        assert expected in page.content.decode()
        assert files_under(upload_dir) == []  # the sealed upload is gone
        assert job.events.filter(action="failed").exists()
    else:
        for kind, count in expected.items():
            assert job.report["by_kind"].get(kind) == count, job.report["by_kind"]
        assert job.rows_total == sum(expected.values())
    assert not Voucher.objects.exists()


@pytest.mark.parametrize(("name", "file_name", "content", "end", "limits"), CASES,
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_command_line_import_of_a_hostile_file_ends_cleanly(
    tmp_path, settings, name, file_name, content, end, limits
):
    for setting, value in limits.items():
        setattr(settings, setting, value)
    batch = make_batch(quantity=None, kind="card_secret", code="HOSTILE")
    path = tmp_path / file_name
    path.write_bytes(content())
    status, expected = end

    if status == "failed":
        with pytest.raises(CommandError) as refused:
            call_command("import_card_stock", str(path), "--batch", batch.code)
        assert expected in str(refused.value)
        job = CardStockImport.objects.get()
        assert job.status == "failed"
        assert job.error and job.error in str(refused.value)
    elif set(expected) == {"accepted"}:
        call_command("import_card_stock", str(path), "--batch", batch.code)
        job = CardStockImport.objects.get()
        assert (job.status, job.rows_imported) == ("imported", expected["accepted"])
    else:
        with pytest.raises(SystemExit):  # rows rejected: blocked, exit status 1
            call_command("import_card_stock", str(path), "--batch", batch.code)
        job = CardStockImport.objects.get()
        rejected = sum(count for kind, count in expected.items() if kind != "accepted")
        assert (job.status, job.rows_rejected) == ("failed", rejected)
    assert job.status != "importing"


def test_a_stale_dimension_hides_no_row():
    batch = make_batch(quantity=None, kind="card_secret", code="DIM")
    data = hostile.stale_dimension_workbook(CODES)

    report = card_stock_import(
        batch=batch, open_file=lambda: _stream(data), file_name="d.xlsx", actor=Actor.system()
    )

    assert (report.rows_total, report.imported) == (5, 5)
    assert batch.vouchers.count() == 5


def test_a_huge_string_cell_is_read_in_bounded_memory():
    batch = make_batch(quantity=None, kind="card_secret", code="BIG")
    data = hostile.huge_string_workbook(CODES[:3], 40_000_000)  # 40 MB of text, ~40 KB zipped

    tracemalloc.start()
    try:
        report = card_stock_import(
            batch=batch,
            open_file=lambda: _stream(data),
            file_name="big.xlsx",
            actor=Actor.system(),
            dry_run=True,
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report.counts == {"accepted": 3, "too_long": 1}
    assert [issue.message for issue in report.issues] == ["A cell is longer than 1024 characters."]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
