"""Card-stock import jobs: the console's upload -> report -> confirm, run in the web
process for small files and in a worker (with progress) for large or slow ones, and the
hourly cleanup of uploads nobody finished with.

A job is a `CardStockImport` row moving validating -> validated -> importing ->
imported, or ending failed (with the reason) or abandoned; every step writes its event
with the actor (`events`). Whatever goes wrong ends the job failed with a reason and
removes its upload: the failures that can happen (`JOB_FAILURES`) with their sentence,
anything else with the kind of error only, and then raised again. Progress goes out of
band, through the shared progress cache. Reading and importing the file itself is the
import service's (`service`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from riskcontrol.core.actors import Actor

from ..models import CardStockImport, CardStockImportEvent, VoucherBatch
from ..tasks import card_stock_import_task, card_stock_validate_task
from .events import JOB_FAILURES, WORKER, failure_message, job_event, job_fail, printable
from .limits import ReadTimeExceeded
from .reading import needs_worker
from .report import ImportReport
from .service import ImportBlocked, card_stock_import
from .uploads import delete_stale_uploads, delete_upload, open_upload

logger = logging.getLogger(__name__)


def _progress_key(job_id: int) -> str:
    return f"card-stock-import:{job_id}"


def card_stock_progress(job: CardStockImport) -> dict[str, Any]:
    progress = caches["progress"].get(_progress_key(job.pk)) or {}
    return {"status": job.status, "error": job.error, **progress}


def _progress_writer(job_id: int) -> Callable[[str, int, int], None]:
    """Progress goes out of band (the shared progress cache): the import's own
    transaction is invisible to the page that polls it."""
    cache = caches["progress"]

    def write(stage: str, done: int, total: int) -> None:
        cache.set(_progress_key(job_id), {"stage": stage, "done": done, "total": total}, 24 * 3600)

    return write


def card_stock_job_start(
    *, batch: VoucherBatch, upload_id: str, file_name: str, actor: Actor
) -> CardStockImport:
    """Register an uploaded (sealed) file and check it: here for small files, in a
    worker (with progress) for large ones (`needs_worker`), or when checking here
    runs out of its time budget."""
    with transaction.atomic():
        job = CardStockImport.objects.create(
            batch=batch,
            file_name=printable(file_name)[:255],
            upload_id=upload_id,
            status=CardStockImport.Status.VALIDATING,
            created_by_id=actor.user_id,
        )
        job_event(job, CardStockImportEvent.Action.UPLOADED, actor)
    if _needs_worker(job, actor):
        _hand_to_worker(job, "validating")
    else:
        card_stock_job_validate(job_id=job.pk, actor=actor, in_worker=False)
    job.refresh_from_db()
    return job


def _needs_worker(job: CardStockImport, actor: Actor) -> bool:
    """Whether the job's upload is read in a worker (`needs_worker`). An upload that
    cannot even be sized goes there too: the worker reads it and ends the job with the
    reason."""
    try:
        return needs_worker(lambda: open_upload(job.upload_id))
    except JOB_FAILURES as error:
        logger.warning(
            "card-stock import %s: cannot size the upload (%s)", job.pk, type(error).__name__
        )
        return True
    except Exception as error:
        _fail_unexpectedly(job, error, actor)
        raise


def _fail_unexpectedly(job: CardStockImport, error: Exception, actor: Actor) -> None:
    """A failure none of `JOB_FAILURES` foresaw (a bug) still ends the job failed with
    the kind of error and removes the upload; the caller raises it again."""
    logger.error("card-stock import %s: unexpected %s", job.pk, type(error).__name__)
    job_fail(job, failure_message(error), actor)


def _hand_to_worker(job: CardStockImport, stage: str) -> None:
    _progress_writer(job.pk)(stage, 0, max(0, job.rows_total - job.rows_rejected))
    task = card_stock_validate_task if stage == "validating" else card_stock_import_task
    task.delay_on_commit(job.pk)


def card_stock_job_validate(
    *, job_id: int, actor: Actor = WORKER, in_worker: bool = True
) -> CardStockImport:
    """The validation pass of a job (no voucher written); the report is kept on the job.
    Any failure ends the job failed with the reason and removes the upload; in a web
    process a file that takes too long goes to the worker instead."""
    job = CardStockImport.objects.select_related("batch").get(pk=job_id)
    if job.status != CardStockImport.Status.VALIDATING:
        return job
    try:
        report = card_stock_import(
            batch=job.batch,
            open_file=lambda: open_upload(job.upload_id),
            file_name=job.file_name,
            actor=actor,
            dry_run=True,
            on_progress=_progress_writer(job.pk),
            read_seconds=settings.CARD_STOCK_READ_SECONDS
            if in_worker
            else settings.CARD_STOCK_SYNC_READ_SECONDS,
        )
        _keep_report(job, report, actor)
    except ReadTimeExceeded as error:
        if in_worker:
            job_fail(job, failure_message(error), actor)
        else:
            _hand_to_worker(job, "validating")
        return job
    except JOB_FAILURES as error:
        logger.warning("card-stock import %s: check failed (%s)", job.pk, type(error).__name__)
        job_fail(job, failure_message(error), actor)
        return job
    except Exception as error:
        _fail_unexpectedly(job, error, actor)
        raise
    job.refresh_from_db()
    return job


def _keep_report(job: CardStockImport, report: ImportReport, actor: Actor) -> None:
    # Conditional: an operator may have abandoned the job while it was being checked.
    with transaction.atomic():
        checked = CardStockImport.objects.filter(
            pk=job.pk, status=CardStockImport.Status.VALIDATING
        ).update(
            report=report.as_dict(),
            rows_total=report.rows_total,
            rows_rejected=report.rejected,
            status=CardStockImport.Status.VALIDATED,
        )
        if checked:
            job_event(
                job,
                CardStockImportEvent.Action.CHECKED,
                actor,
                _("%(rows)d rows, %(rejected)d rejected")
                % {"rows": report.rows_total, "rejected": report.rejected},
            )


def card_stock_job_confirm(
    *, job: CardStockImport, skip_rejected: bool, actor: Actor
) -> CardStockImport:
    """The operator confirmed the report: import, here or in a worker (large files)."""
    with transaction.atomic():
        updated = CardStockImport.objects.filter(
            pk=job.pk, status=CardStockImport.Status.VALIDATED
        ).update(status=CardStockImport.Status.IMPORTING, skip_rejected=skip_rejected)
        if not updated:
            raise ImportBlocked(_("This import is not waiting for confirmation."))
        job_event(
            job,
            CardStockImportEvent.Action.CONFIRMED,
            actor,
            _("skip rejected rows") if skip_rejected else "",
        )
    job.refresh_from_db()
    if job.rows_total > settings.CARD_STOCK_SYNC_ROWS or _needs_worker(job, actor):
        _hand_to_worker(job, "importing")
    else:
        card_stock_job_run(job_id=job.pk, actor=actor, in_worker=False)
    job.refresh_from_db()
    return job


def card_stock_job_run(
    *, job_id: int, actor: Actor = WORKER, in_worker: bool = True
) -> CardStockImport:
    """The import pass of a confirmed job. Safe to retry or to run twice: the job row is
    locked for the whole import, so a second run waits and then finds it finished; the
    import itself is one transaction (a crash leaves the job IMPORTING, to be retried).
    Any failure ends the job failed with the reason and removes the upload; in a web
    process a file that takes too long goes to the worker instead."""
    with transaction.atomic():
        job = CardStockImport.objects.select_for_update().select_related("batch").get(pk=job_id)
        if job.status != CardStockImport.Status.IMPORTING:
            return job
        try:
            with transaction.atomic():  # a failure rolls back to here; the lock stays
                report = card_stock_import(
                    batch=job.batch,
                    open_file=lambda: open_upload(job.upload_id),
                    file_name=job.file_name,
                    actor=actor,
                    skip_rejected=job.skip_rejected,
                    import_job=job,
                    on_progress=_progress_writer(job.pk),
                    read_seconds=settings.CARD_STOCK_READ_SECONDS
                    if in_worker
                    else settings.CARD_STOCK_SYNC_READ_SECONDS,
                )
        except ReadTimeExceeded as error:
            if in_worker:
                job_fail(job, failure_message(error), actor)
            else:
                _hand_to_worker(job, "importing")
            return job
        except JOB_FAILURES as error:
            logger.warning("card-stock import %s: import failed (%s)", job.pk, type(error).__name__)
            job_fail(job, failure_message(error), actor)
            return job
        except Exception as error:
            # A bug: the job still ends failed, committed here, and the error is raised
            # once the job's lock is released.
            _fail_unexpectedly(job, error, actor)
            unexpected = error
        else:
            unexpected = None
            _record_import(job, report, actor)
    if unexpected is not None:
        raise unexpected
    delete_upload(job.upload_id)
    return job


def _record_import(job: CardStockImport, report: ImportReport, actor: Actor) -> None:
    """The import pass ended: imported, or failed because nothing was imported."""
    job.rows_imported = report.imported
    job.status = (
        CardStockImport.Status.IMPORTED if report.imported else CardStockImport.Status.FAILED
    )
    job.error = "" if report.imported else _("Nothing was imported.")
    job.finished_at = timezone.now()
    job.save(update_fields=["rows_imported", "status", "error", "finished_at"])
    if report.imported:
        job_event(
            job,
            CardStockImportEvent.Action.IMPORTED,
            actor,
            pgettext("card-stock import", "%(count)d vouchers") % {"count": report.imported},
        )
    else:
        job_event(job, CardStockImportEvent.Action.FAILED, actor, job.error)


def card_stock_job_abandon(*, job: CardStockImport, actor: Actor) -> None:
    """The operator (or the cleanup of old uploads) gives up an import that has not
    started writing; its upload is deleted."""
    with transaction.atomic():
        abandoned = CardStockImport.objects.filter(
            pk=job.pk,
            status__in=[CardStockImport.Status.VALIDATING, CardStockImport.Status.VALIDATED],
        ).update(status=CardStockImport.Status.ABANDONED, finished_at=timezone.now())
        if abandoned:
            job_event(job, CardStockImportEvent.Action.ABANDONED, actor)
    if job.upload_id:
        delete_upload(job.upload_id)


def card_stock_uploads_cleanup() -> int:
    """Hourly: sealed uploads older than 24 h are removed and their jobs abandoned."""
    removed = delete_stale_uploads()
    cutoff = timezone.now() - dt.timedelta(hours=24)
    cleanup = Actor.system("upload cleanup")
    for job in CardStockImport.objects.filter(
        created_at__lt=cutoff,
        status__in=[CardStockImport.Status.VALIDATING, CardStockImport.Status.VALIDATED],
    ):
        card_stock_job_abandon(job=job, actor=cleanup)
    return removed
