"""Card-stock import jobs: who did what (events with the actor), failures that end the
job with a reason and remove the upload, large or slow files read only by the worker,
and uploads refused before anything reaches the disk."""

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from tests.vouchers.hostile_files import inline_row, sheet_xml, xlsx
from vouchers.cardstock import card_stock_job_start, card_stock_uploads_cleanup
from vouchers.cardstock.uploads import seal_stream
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db(transaction=True)
CODES = [f"JOB-{i:05d}-SECRET" for i in range(30)]
WORKER = "card-stock import"


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "django-temp")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # Django would spill anything bigger to disk
    (tmp_path / "django-temp").mkdir()
    return tmp_path


def files_under(path):
    return [p for p in path.rglob("*") if p.is_file()]


def csv_upload(codes=CODES, name="stock.csv"):
    content = "code,serial\n" + "".join(f"{c},SN-{i}\n" for i, c in enumerate(codes))
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def history(job):
    return [(e.action, e.actor_label) for e in job.events.order_by("created_at", "id")]


def upload(client, batch, file=None):
    return client.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": file or csv_upload()}
    )


# --- who did it ------------------------------------------------------------------------------


def test_upload_confirm_and_abandon_record_who_did_them(console_client, upload_dir):
    operator = console_client("Operator")
    user = User.objects.get(username="operator-user")
    batch = make_batch(quantity=None, kind="card_secret", code="WHO")

    upload(operator, batch)
    job = CardStockImport.objects.get()
    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")
    upload(operator, batch, csv_upload([f"OTHER-{i:04d}-X" for i in range(3)]))
    abandoned = CardStockImport.objects.exclude(pk=job.pk).get()
    operator.post(f"/admin/vouchers/cardstockimport/{abandoned.pk}/abandon/")

    assert history(job) == [
        ("uploaded", "operator-user"),
        ("checked", "operator-user"),
        ("confirmed", "operator-user"),
        ("imported", "operator-user"),
    ]
    assert {e.user_id for e in job.events.all()} == {user.pk}
    assert history(abandoned) == [
        ("uploaded", "operator-user"),
        ("checked", "operator-user"),
        ("abandoned", "operator-user"),
    ]
    page = operator.get(f"/admin/vouchers/cardstockimport/{abandoned.pk}/report/").content.decode()
    assert 'data-action="abandoned"' in page
    assert "operator-user" in page


def test_what_the_worker_does_is_recorded_as_the_worker(console_client, upload_dir, settings):
    settings.CARD_STOCK_SYNC_ROWS = 10  # tasks run eagerly in tests
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="WHO")

    upload(operator, batch)
    job = CardStockImport.objects.get()
    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")

    assert history(job) == [
        ("uploaded", "operator-user"),
        ("checked", WORKER),
        ("confirmed", "operator-user"),
        ("imported", WORKER),
    ]


def test_the_hourly_cleanup_records_the_jobs_it_abandons(console_client, upload_dir, time_machine):
    operator = console_client("Operator")
    upload(operator, make_batch(quantity=None, kind="card_secret", code="OLD"))
    time_machine.move_to(timezone.now() + timezone.timedelta(hours=25))

    card_stock_uploads_cleanup()

    job = CardStockImport.objects.get()
    assert job.status == "abandoned"
    assert history(job)[-1] == ("abandoned", "upload cleanup")
    assert files_under(upload_dir) == []


def test_the_command_line_records_its_import(tmp_path):
    make_batch(quantity=None, kind="card_secret", code="CLI")
    path = tmp_path / "stock.csv"
    path.write_text("code\n" + "\n".join(CODES[:4]) + "\n")

    call_command("import_card_stock", str(path), "--batch", "CLI")

    job = CardStockImport.objects.get()
    assert (job.status, job.rows_imported) == ("imported", 4)
    actions = history(job)
    assert [action for action, _label in actions] == ["uploaded", "confirmed", "imported"]
    assert all(label.startswith("import_card_stock (") for _action, label in actions)


# --- failures end the job ---------------------------------------------------------------------


def test_a_corrupted_upload_fails_the_check_with_a_reason(upload_dir):
    batch = make_batch(quantity=None, kind="card_secret", code="BAD")
    upload_id, _size = seal_stream(io.BytesIO(b"code\nBAD-000001\n"))
    sealed = next((upload_dir / "sealed").iterdir())
    sealed.write_bytes(sealed.read_bytes()[:-1] + b"\x00")  # one flipped byte: no longer opens

    job = card_stock_job_start(
        batch=batch, upload_id=upload_id, file_name="stock.csv", actor=Actor.system("test")
    )

    assert job.status == "failed"
    assert job.error == "The job failed (DecryptionError); nothing was imported."
    assert files_under(upload_dir) == []
    assert history(job)[-1] == ("failed", WORKER)


def test_an_import_whose_upload_vanished_fails_with_a_reason(console_client, upload_dir):
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="GONE")
    upload(operator, batch)
    job = CardStockImport.objects.get()
    for path in files_under(upload_dir):
        path.unlink()  # the disk lost it between the check and the confirmation

    response = operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/", follow=True)

    job.refresh_from_db()
    assert response.status_code == 200
    assert job.status == "failed"
    assert job.error == "The job failed (FileNotFoundError); nothing was imported."
    assert job.error in response.content.decode()
    assert not Voucher.objects.exists()


# --- large and slow files go to the worker ----------------------------------------------------


def _xlsx_upload(rows: int) -> SimpleUploadedFile:
    body = inline_row(1, "code") + "".join(
        inline_row(i, f"XL-{i:06d}-SECRET") for i in range(2, rows + 2)
    )
    return SimpleUploadedFile("stock.xlsx", xlsx(sheet_xml(body)))


def test_an_xlsx_that_expands_past_the_web_limit_is_read_by_the_worker(
    console_client, upload_dir, settings
):
    settings.CARD_STOCK_SYNC_BYTES = 50_000
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="XL")

    upload(operator, batch, _xlsx_upload(20))  # a few KB: read in the web process
    upload(operator, batch, _xlsx_upload(1000))  # ~80 KB once unzipped, ~10 KB zipped

    small, large = CardStockImport.objects.order_by("id")
    assert history(small)[1] == ("checked", "operator-user")
    assert history(large)[1] == ("checked", WORKER)
    assert (large.status, large.rows_total) == ("validated", 1000)


def test_a_check_out_of_time_in_the_web_goes_to_the_worker(console_client, upload_dir, settings):
    settings.CARD_STOCK_SYNC_READ_SECONDS = 1e-9
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="SLOW")

    upload(operator, batch, csv_upload([f"SLOW-{i:06d}-SECRET" for i in range(3000)]))

    job = CardStockImport.objects.get()
    assert (job.status, job.rows_total) == ("validated", 3000)
    assert history(job)[1] == ("checked", WORKER)


def test_an_import_out_of_time_in_the_web_goes_to_the_worker(console_client, upload_dir, settings):
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="SLOW")
    upload(operator, batch, csv_upload([f"SLOW-{i:06d}-SECRET" for i in range(3000)]))
    job = CardStockImport.objects.get()
    settings.CARD_STOCK_SYNC_READ_SECONDS = 1e-9

    operator.post(f"/admin/vouchers/cardstockimport/{job.pk}/confirm/")

    job.refresh_from_db()
    assert (job.status, job.rows_imported) == ("imported", 3000)
    assert history(job)[-2:] == [("confirmed", "operator-user"), ("imported", WORKER)]
    assert Voucher.objects.filter(batch=batch).count() == 3000


def test_a_worker_out_of_time_fails_the_job_with_the_reason(console_client, upload_dir, settings):
    settings.CARD_STOCK_SYNC_READ_SECONDS = 1e-9
    settings.CARD_STOCK_READ_SECONDS = 1e-9
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="SLOW")

    upload(operator, batch, csv_upload([f"SLOW-{i:06d}-SECRET" for i in range(3000)]))

    job = CardStockImport.objects.get()
    assert job.status == "failed"
    assert job.error == "Reading the file took longer than its time budget."
    assert files_under(upload_dir) == []


# --- refused uploads leave nothing on disk ----------------------------------------------------


def _csrf_client(role: str) -> Client:
    user = User.objects.create_user(
        f"{role.lower()}-csrf", password="pw-console-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/")  # the page's forms set the CSRF cookie
    return client


def test_an_upload_without_permission_leaves_nothing_on_disk(upload_dir):
    auditor = _csrf_client("Auditor")
    batch = make_batch(quantity=None, kind="card_secret", code="NOPE")

    response = auditor.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/",
        {"csrfmiddlewaretoken": auditor.cookies["csrftoken"].value, "file": csv_upload()},
    )

    assert response.status_code == 403
    assert files_under(upload_dir) == []
    assert not CardStockImport.objects.exists()


def test_an_upload_without_a_csrf_token_leaves_nothing_on_disk(upload_dir):
    operator = _csrf_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="NOPE")

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": csv_upload()}
    )

    assert response.status_code == 403
    assert files_under(upload_dir) == []
    assert not CardStockImport.objects.exists()


def test_an_upload_over_the_size_limit_is_refused_and_removed(console_client, upload_dir, settings):
    settings.CARD_STOCK_UPLOAD_MAX_BYTES = 1024 * 1024
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="HUGE")
    codes = [f"HUGE-{i:07d}-SECRET" for i in range(60_000)]  # ~1.7 MB

    response = upload(operator, batch, csv_upload(codes))

    assert response.status_code == 200
    assert "The file is larger than 1 MB; split it into smaller files." in response.content.decode()
    assert files_under(upload_dir) == []
    assert not CardStockImport.objects.exists()
