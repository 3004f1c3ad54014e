"""Long jobs finish after their worker dies (issue 9 #7): the stale-job sweeper."""

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from riskcontrol.core.actors import Actor
from tests.utils import IN_CI, race, requires_postgresql
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_job_confirm, card_stock_job_start
from vouchers.cardstock.uploads import seal_stream
from vouchers.models import BatchEvent, CardStockImport, Voucher, VoucherBatch
from vouchers.services import voucher_batch_create
from vouchers.sweeper import stale_jobs_resume

SYSTEM = Actor.system("test")


def pending_batch(code: str, quantity: int) -> VoucherBatch:
    """A batch whose generation task was lost (never ran, or its worker died before the
    first chunk committed)."""
    return voucher_batch_create(
        code=code,
        name="Sweeper test",
        face_value=Decimal("5.00"),
        valid_days=7,
        quantity=quantity,
        activate=True,
        actor=SYSTEM,
        generate=False,
    )


def later(seconds: float | None = None) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds or settings.JOBS_STALE_SECONDS + 1)


# --- when the sweeper resumes a job ------------------------------------------------------


@pytest.mark.django_db
def test_a_job_with_recent_progress_is_left_alone():
    batch = pending_batch("FRESH", 50)

    report = stale_jobs_resume()

    assert report.generation == []
    assert not BatchEvent.objects.filter(batch=batch, action="generation_resumed").exists()


@pytest.mark.django_db
def test_a_stale_generation_is_resumed_once_per_stale_period(django_capture_on_commit_callbacks):
    batch = pending_batch("STALE", 50)

    with django_capture_on_commit_callbacks(execute=True):
        first = stale_jobs_resume(now=later())
    again = stale_jobs_resume(now=later())

    assert first.generation == [batch.pk]
    assert again.generation == []
    batch.refresh_from_db()
    assert (batch.generation, batch.generated_count, batch.status) == ("done", 50, "active")
    assert Voucher.objects.filter(batch=batch).count() == 50
    event = BatchEvent.objects.get(batch=batch, action="generation_resumed")
    assert (event.actor_kind, event.actor_label) == ("system", "job sweeper")


@pytest.mark.django_db
def test_a_finished_batch_is_not_resumed():
    make_batch(quantity=20, code="DONE")

    assert stale_jobs_resume(now=later()).generation == []


@pytest.mark.django_db
def test_a_card_stock_import_whose_worker_died_is_resumed_and_imports_once(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    settings.CARD_STOCK_SYNC_ROWS = 5  # confirm hands the import to a worker ...
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    content = "code,serial\n" + "".join(f"SECRET-{i:05d}-XYZ,SN-{i}\n" for i in range(3))
    upload_id, _size = seal_stream(io.BytesIO(content.encode()))
    job = card_stock_job_start(batch=batch, upload_id=upload_id, file_name="s.csv", actor=SYSTEM)
    job.rows_total = 30  # ... which (on_commit never fires in this test) never runs it
    job.save(update_fields=["rows_total"])
    card_stock_job_confirm(job=job, skip_rejected=False, actor=SYSTEM)
    assert CardStockImport.objects.get(pk=job.pk).status == "importing"

    with django_capture_on_commit_callbacks(execute=True):
        report = stale_jobs_resume(now=later())

    job.refresh_from_db()
    assert report.card_stock_imports == [job.pk]
    assert (job.status, job.rows_imported) == ("imported", 3)
    assert Voucher.objects.filter(batch=batch).count() == 3
    assert BatchEvent.objects.filter(batch=batch, action="import_resumed").count() == 1


@pytest.mark.django_db
def test_a_card_stock_check_whose_worker_died_is_resumed(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    settings.CARD_STOCK_SYNC_ROWS = 1  # the check goes to a worker (never runs here)
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")
    content = "code,serial\n" + "".join(f"SECRET-{i:05d}-XYZ,SN-{i}\n" for i in range(3))
    upload_id, _size = seal_stream(io.BytesIO(content.encode()))
    job = card_stock_job_start(batch=batch, upload_id=upload_id, file_name="s.csv", actor=SYSTEM)
    assert CardStockImport.objects.get(pk=job.pk).status == "validating"

    with django_capture_on_commit_callbacks(execute=True):
        report = stale_jobs_resume(now=later())

    job.refresh_from_db()
    assert report.card_stock_imports == [job.pk]
    assert (job.status, job.rows_total, job.rows_rejected) == ("validated", 3, 0)
    assert not Voucher.objects.filter(batch=batch).exists()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_enqueue_a_stale_job_exactly_once():
    batch = pending_batch("RACE", 100)
    moment = later()

    reports = race(6, lambda _i: stale_jobs_resume(now=moment))

    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sum(len(report.generation) for report in reports) == 1
    assert BatchEvent.objects.filter(batch=batch, action="generation_resumed").count() == 1
    batch.refresh_from_db()
    assert (batch.generation, batch.generated_count) == ("done", 100)
    assert Voucher.objects.filter(batch=batch).count() == 100


# --- a real worker, killed -----------------------------------------------------------------


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        start_new_session=True,  # its own process group, killed whole
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis") and not IN_CI,
    reason="real-worker test: set CELERY_BROKER_URL=redis://... (CI does)",
)
@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_generation_the_sweeper_and_a_new_worker_finish_the_batch():
    from config.celery import app

    quantity = 100_000  # five chunks of 20,000
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    app.conf.task_always_eager = False
    app.control.purge()  # this test's broker DB: nothing left over from earlier runs
    workers = []
    try:
        # given a batch being generated by a real worker
        batch = voucher_batch_create(
            code="KILLED",
            name="Killed worker",
            face_value=Decimal("5.00"),
            valid_days=7,
            quantity=quantity,
            activate=True,
            actor=SYSTEM,
        )  # autocommit: the task is sent right away
        workers.append(_worker(env))

        def progress() -> int:
            return VoucherBatch.objects.get(pk=batch.pk).generated_count

        _wait_for(lambda: progress() > 0, 120, "the first chunk")

        # when the whole worker is killed mid-job
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        stranded = VoucherBatch.objects.get(pk=batch.pk)
        assert stranded.generation == "running"
        assert 0 < stranded.generated_count < quantity

        # then the sweeper enqueues it again, once, and a new worker finishes it
        report = stale_jobs_resume(now=later())
        assert report.generation == [batch.pk]
        assert stale_jobs_resume(now=later()).generation == []
        workers.append(_worker(env))
        _wait_for(
            lambda: VoucherBatch.objects.get(pk=batch.pk).generation == "done",
            180,
            "the new worker to finish the batch",
        )
    finally:
        app.conf.task_always_eager = True
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    batch.refresh_from_db()
    assert (batch.generated_count, batch.status) == (quantity, "active")
    sequences = Voucher.objects.filter(batch=batch).values_list("sequence", flat=True)
    assert sequences.count() == quantity
    assert set(sequences) == set(range(1, quantity + 1))
    assert Voucher.objects.filter(batch=batch).values("secret_index").distinct().count() == quantity
