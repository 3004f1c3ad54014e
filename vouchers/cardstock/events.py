"""Who did what to a card-stock import: the job's audit events, how a job ends as
failed (with the sentence an operator reads, and its upload removed), and the job that
records an import from the command line.

Each state change of a `CardStockImport` (uploaded, checked, confirmed, imported,
failed, abandoned) writes one `CardStockImportEvent` with its actor, in the same
transaction as the change; the job functions in `jobs` call `job_event` and
`job_fail`. Reading and importing the file itself live in `service`.
"""

from __future__ import annotations

import csv
import re

import psycopg
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed
from riskcontrol.crypto import DecryptionError

from ..models import CardStockImport, CardStockImportEvent, VoucherBatch
from .report import ImportReport
from .uploads import delete_upload

# The worker's own doings; an operator's are recorded under the operator.
WORKER = Actor.system("card-stock import")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def printable(file_name: str) -> str:
    """A file name as a job keeps it: without control characters."""
    return _UNPRINTABLE.sub("", file_name)


def job_event(job: CardStockImport, action: str, actor: Actor, detail: str = "") -> None:
    CardStockImportEvent.objects.create(
        job=job,
        action=action,
        detail=detail[:255],
        **CardStockImportEvent.actor_stamp(actor),
    )


# What reading and importing a file can run into; each ends the job failed with its
# sentence: the domain's refusals (`FileRefused`, `ReadTimeExceeded`, `ImportBlocked`
# among them), a sealed upload that no longer opens or is gone, a file that is no text
# or no CSV (`UnicodeDecodeError` is a `ValueError`), a workbook missing a part, and the
# database giving up (a lost connection, a statement timeout), through Django or inside
# the COPY. Anything else is a bug: the job still ends failed, and the error is raised
# again to be seen.
JOB_FAILURES = (
    DomainError,
    DecryptionError,
    OSError,
    csv.Error,
    ValueError,
    KeyError,
    DatabaseError,
    psycopg.DatabaseError,
)


def failure_message(error: Exception) -> str:
    """What an operator reads when a job fails: the domain error's own sentence, else
    the kind of failure only (an error's text may quote the file)."""
    if isinstance(error, ValidationFailed):
        return " ".join(str(message) for messages in error.errors.values() for message in messages)
    if isinstance(error, DomainError):
        return str(error.detail)
    if isinstance(error, UnicodeDecodeError | csv.Error | ValueError | KeyError):
        return _("The file cannot be read: %(error)s") % {"error": type(error).__name__}
    return _("The job failed (%(error)s); nothing was imported.") % {"error": type(error).__name__}


def job_fail(job: CardStockImport, message: str, actor: Actor = WORKER) -> None:
    """End a job that has not ended yet as failed, with the reason; remove its upload."""
    with transaction.atomic():
        ended = CardStockImport.objects.filter(
            pk=job.pk,
            status__in=[CardStockImport.Status.VALIDATING, CardStockImport.Status.IMPORTING],
        ).update(
            status=CardStockImport.Status.FAILED, error=message[:255], finished_at=timezone.now()
        )
        if ended:
            job_event(job, CardStockImportEvent.Action.FAILED, actor, message)
    job.refresh_from_db()
    if job.upload_id:
        delete_upload(job.upload_id)


def card_stock_cli_job_begin(
    *, batch: VoucherBatch, file_name: str, actor: Actor
) -> CardStockImport:
    """The command line's import: a job that starts importing at once (no upload)."""
    with transaction.atomic():
        job = CardStockImport.objects.create(
            batch=batch,
            file_name=printable(file_name)[:255],
            status=CardStockImport.Status.IMPORTING,
            created_by_id=actor.user_id,
        )
        job_event(job, CardStockImportEvent.Action.UPLOADED, actor)
        job_event(job, CardStockImportEvent.Action.CONFIRMED, actor)
    return job


def card_stock_cli_job_end(
    *, job: CardStockImport, actor: Actor, report: ImportReport | None = None, error: str = ""
) -> None:
    """The command line's import ended: with its report, or failed with `error`."""
    if report is None or not report.imported:
        if report is not None:
            CardStockImport.objects.filter(pk=job.pk).update(
                rows_total=report.rows_total, rows_rejected=report.rejected
            )
        job_fail(job, error or _("Nothing was imported."), actor)
        return
    with transaction.atomic():
        CardStockImport.objects.filter(pk=job.pk).update(
            rows_total=report.rows_total,
            rows_imported=report.imported,
            rows_rejected=report.rejected,
            status=CardStockImport.Status.IMPORTED,
            finished_at=timezone.now(),
        )
        job_event(
            job,
            CardStockImportEvent.Action.IMPORTED,
            actor,
            pgettext("card-stock import", "%(count)d vouchers") % {"count": report.imported},
        )
