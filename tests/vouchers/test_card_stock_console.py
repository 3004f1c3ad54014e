"""The operator's card-stock import: upload -> report -> confirm, with sealed uploads."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.utils import dump_database
from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db(transaction=True)
CODES = [f"SECRET-{i:05d}-XYZ" for i in range(30)]


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "django-temp")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # Django would spill anything bigger to disk
    (tmp_path / "django-temp").mkdir()
    return tmp_path


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def csv_file(codes, name="stock.csv"):
    content = ("code,serial\n" + "".join(f"{c},SN-{i}\n" for i, c in enumerate(codes))).encode()
    return SimpleUploadedFile(name, content, content_type="text/csv")


def all_bytes_under(path):
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_upload_report_confirm_and_no_code_at_rest(operator, upload_dir):
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")

    uploaded = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file([*CODES, CODES[0]])}
    )

    job = CardStockImport.objects.get()
    assert uploaded["Location"] == f"/admin/vouchers/cardstockimport/{job.pk}/report/"
    assert (job.status, job.rows_total, job.rows_rejected) == ("validated", 31, 1)
    assert not Voucher.objects.filter(batch=batch).exists()  # nothing before confirmation
    at_rest = all_bytes_under(upload_dir)
    assert at_rest  # the sealed upload is there...
    assert not [c for c in CODES if c.encode() in at_rest]  # ...and holds no code in clear
    report = operator.get(uploaded["Location"]).content.decode()
    assert 'data-kind="accepted">30<' in report
    assert "duplicate_in_file" in report
    assert "SE****YZ" in report
    assert not [c for c in CODES if c in report]

    refused = operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/", follow=True)
    assert "Some rows were rejected" in refused.content.decode()
    assert not Voucher.objects.filter(batch=batch).exists()

    done = operator.post(
        f"/admin/vouchers/cardstockimport/{job.pk}/confirm/", {"skip_rejected": "on"}, follow=True
    )

    job.refresh_from_db()
    assert (job.status, job.rows_imported) == ("imported", 30)
    assert "30 vouchers imported into STOCK." in done.content.decode()
    assert Voucher.objects.filter(batch=batch, import_job=job).count() == 30
    assert all_bytes_under(upload_dir) == b""  # the sealed upload is gone too
    dump = dump_database()
    assert not [c for c in CODES if c in dump]


def test_report_downloads_as_csv_with_masked_codes(operator, upload_dir):
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/",
        {"file": csv_file(["", CODES[0], CODES[0]])},
    )
    job = CardStockImport.objects.get()

    response = operator.get(f"/admin/vouchers/cardstockimport/{job.pk}/report.csv/")

    text = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "row,kind,message,code (masked)" in text
    assert "empty" in text and "duplicate_in_file" in text
    assert CODES[0] not in text


def test_abandoning_deletes_the_upload(operator, upload_dir):
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file(CODES)})
    job = CardStockImport.objects.get()

    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/abandon/")

    job.refresh_from_db()
    assert job.status == "abandoned"
    assert all_bytes_under(upload_dir) == b""
    assert not Voucher.objects.exists()


def test_a_large_file_is_checked_and_imported_by_the_worker(operator, upload_dir, settings):
    settings.CARD_STOCK_SYNC_ROWS = 10  # tasks run eagerly in tests
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")

    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file(CODES)})
    job = CardStockImport.objects.get()
    progress = operator.get(f"/admin/vouchers/cardstockimport/{job.pk}/progress/").json()
    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")

    job.refresh_from_db()
    assert progress["status"] == "validated"
    assert progress["stage"] == "validated"
    assert (job.status, job.rows_imported) == ("imported", 30)


def test_only_operators_who_may_import_see_the_upload(console_client, upload_dir):
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    auditor = console_client("Auditor")

    assert auditor.get(f"/admin/vouchers/voucherbatch/{batch.pk}/import/").status_code == 403
    assert (
        auditor.post(
            f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file(CODES)}
        ).status_code
        == 403
    )
    assert not CardStockImport.objects.exists()


def test_stale_uploads_are_cleaned_up(operator, upload_dir, time_machine):
    import os
    import time

    from django.utils import timezone

    from vouchers.cardstock import card_stock_uploads_cleanup

    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file(CODES)})
    for path in (upload_dir / "sealed").iterdir():
        old = time.time() - 25 * 3600
        os.utime(path, (old, old))
    time_machine.move_to(timezone.now() + timezone.timedelta(hours=25))

    removed = card_stock_uploads_cleanup()

    assert removed == 1
    assert CardStockImport.objects.get().status == "abandoned"


def test_an_xlsx_upload_goes_through_the_sealed_store(operator, upload_dir):
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["卡密", "卡号"])
    for i, code in enumerate(CODES[:5]):
        workbook.active.append([code, f"S{i}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    upload = SimpleUploadedFile("stock.xlsx", buffer.getvalue())

    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": upload})
    job = CardStockImport.objects.get()
    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")

    job.refresh_from_db()
    assert (job.report["format"], job.status, job.rows_imported) == ("xlsx", "imported", 5)


def test_an_import_task_delivered_twice_imports_once(operator, upload_dir):
    from vouchers.cardstock import card_stock_job_run

    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_file(CODES)})
    job = CardStockImport.objects.get()
    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")

    again = card_stock_job_run(job_id=job.pk)  # a retried or duplicated task

    assert (again.status, again.rows_imported) == ("imported", 30)
    assert Voucher.objects.filter(batch=batch).count() == 30
