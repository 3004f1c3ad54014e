"""Card-stock jobs and a failure nobody foresaw (issue 10, item 7): the job still ends
failed with the kind of error and its upload removed (issue 9), and the error is raised
again instead of being swallowed, so that it is seen. The failure comes from a setting
of the wrong type (a misconfiguration), not from patched code."""

import io

import pytest
from django.core.management import call_command

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_job_confirm, card_stock_job_start, seal_stream
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db(transaction=True)
OPERATOR = Actor.system("test operator")
STOCK = b"code\n" + b"".join(b"ODD-%05d-SECRET\n" % i for i in range(5))
UNFORESEEN = "The job failed (TypeError); nothing was imported."


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    return tmp_path / "sealed"


def history(job):
    return [(e.action, e.actor_label) for e in job.events.order_by("created_at", "id")]


def sealed_files(path):
    return list(path.glob("*")) if path.exists() else []


def test_an_unforeseen_error_in_the_check_fails_the_job_and_is_raised(upload_dir, settings):
    settings.CARD_STOCK_SYNC_READ_SECONDS = "twenty"  # a number was meant
    batch = make_batch(quantity=None, kind="card_secret", code="ODDCHECK")
    upload_id, _size = seal_stream(io.BytesIO(STOCK))

    with pytest.raises(TypeError):
        card_stock_job_start(
            batch=batch, upload_id=upload_id, file_name="stock.csv", actor=OPERATOR
        )

    job = CardStockImport.objects.get()
    assert (job.status, job.error) == ("failed", UNFORESEEN)
    assert job.finished_at is not None
    assert sealed_files(upload_dir) == []
    assert history(job) == [("uploaded", "test operator"), ("failed", "test operator")]


def test_an_unforeseen_error_in_the_import_fails_the_job_and_is_raised(upload_dir, settings):
    batch = make_batch(quantity=None, kind="card_secret", code="ODDRUN")
    upload_id, _size = seal_stream(io.BytesIO(STOCK))
    job = card_stock_job_start(
        batch=batch, upload_id=upload_id, file_name="stock.csv", actor=OPERATOR
    )
    assert job.status == "validated"
    settings.CARD_STOCK_SYNC_READ_SECONDS = "twenty"

    with pytest.raises(TypeError):
        card_stock_job_confirm(job=job, skip_rejected=False, actor=OPERATOR)

    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", UNFORESEEN)
    assert sealed_files(upload_dir) == []
    assert history(job)[-2:] == [("confirmed", "test operator"), ("failed", "test operator")]
    assert not Voucher.objects.exists()


def test_an_unforeseen_error_on_the_command_line_fails_the_job_and_is_raised(tmp_path, settings):
    settings.CARD_STOCK_MAX_COLUMNS = "64"  # a number was meant
    make_batch(quantity=None, kind="card_secret", code="ODDCLI")
    path = tmp_path / "stock.csv"
    path.write_bytes(STOCK)

    with pytest.raises(TypeError):
        call_command("import_card_stock", str(path), "--batch", "ODDCLI")

    job = CardStockImport.objects.get()
    assert (job.status, job.error) == ("failed", UNFORESEEN)
    assert [action for action, _label in history(job)] == ["uploaded", "confirmed", "failed"]
    assert not Voucher.objects.exists()
