"""The stale-job sweeper: long jobs finish even when the worker running them died.

Generation and card-stock imports run in a worker with `acks_late`; Redis hands a dead
worker's task to another one only after the visibility timeout (hours, so that a long
job is never started twice while it runs). Beat runs `stale_jobs_resume` every minute:
a job whose progress has not moved for `JOBS_STALE_SECONDS` is enqueued again, at most
once per stale period — a conditional update of its `JobWatch` row decides between two
sweepers. Re-running is safe: generation continues from its last committed chunk and
stops at exactly the quantity; an import that died rolled back whole and runs again
under its job's row lock (a second run waits, then finds it done).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from riskcontrol.core.actors import Actor

from .cardstock import card_stock_progress
from .models import BatchEvent, CardStockImport, JobWatch, VoucherBatch
from .tasks import card_stock_import_task, card_stock_validate_task, voucher_batch_generate_task

logger = logging.getLogger(__name__)

SWEEPER = Actor.system("job sweeper")
GEN = VoucherBatch.Generation
JOB = CardStockImport.Status


@dataclass
class SweepReport:
    generation: list[int] = field(default_factory=list)
    card_stock_imports: list[int] = field(default_factory=list)


def stale_jobs_resume(*, now: dt.datetime | None = None) -> SweepReport:
    """Enqueue again every long job with no progress for `JOBS_STALE_SECONDS`."""
    now = now or timezone.now()
    report = SweepReport()
    batches = VoucherBatch.objects.filter(
        source=VoucherBatch.Source.GENERATED, generation__in=[GEN.PENDING, GEN.RUNNING]
    ).only("pk", "code", "generation", "generated_count", "quantity", "updated_at")
    for batch in batches:
        progress = f"{batch.generation}:{batch.generated_count}"
        if _claim(JobWatch.Kind.GENERATION, batch.pk, progress, batch.updated_at, now):
            _resumed(batch.pk, "generation_resumed", f"{batch.generated_count}/{batch.quantity}")
            voucher_batch_generate_task.delay_on_commit(batch.pk)
            report.generation.append(batch.pk)
    jobs = CardStockImport.objects.filter(status__in=[JOB.VALIDATING, JOB.IMPORTING])
    for job in jobs:
        if job.status == JOB.IMPORTING and _held_by_a_worker(job.pk):
            progress, since = f"running:{now.isoformat()}", now
        else:
            seen = card_stock_progress(job)
            progress = f"{job.status}:{seen.get('stage', '')}:{seen.get('done', '')}"[:100]
            since = job.created_at
        if _claim(JobWatch.Kind.CARD_STOCK_IMPORT, job.pk, progress, since, now):
            _resumed(job.batch_id, "import_resumed", f"import {job.pk} ({job.status})")
            task = (
                card_stock_import_task
                if job.status == JOB.IMPORTING
                else (card_stock_validate_task)
            )
            task.delay_on_commit(job.pk)
            report.card_stock_imports.append(job.pk)
    _forget_finished(batches, jobs)
    if report.generation or report.card_stock_imports:
        logger.warning(
            "Resumed stale jobs: generation of batches %s, card-stock imports %s",
            report.generation,
            report.card_stock_imports,
        )
    return report


def _held_by_a_worker(job_id: int) -> bool:
    """A running import holds its job's row lock for the whole import."""
    with transaction.atomic():
        free = (
            CardStockImport.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id)
            .values_list("pk", flat=True)
            .first()
        )
    return free is None


def _claim(kind: str, object_id: int, progress: str, since: dt.datetime, now: dt.datetime) -> bool:
    """True for exactly one sweeper when the job's progress has not moved for the stale
    period (since the later of its last seen change and `since`)."""
    stale_before = now - dt.timedelta(seconds=settings.JOBS_STALE_SECONDS)
    watch = JobWatch.objects.filter(kind=kind, object_id=object_id).first()
    if watch is None:
        try:
            with transaction.atomic():
                watch = JobWatch.objects.create(
                    kind=kind, object_id=object_id, progress=progress, seen_at=min(since, now)
                )
        except IntegrityError:  # a concurrent sweeper saw it first
            watch = JobWatch.objects.get(kind=kind, object_id=object_id)
    if watch.progress != progress:
        JobWatch.objects.filter(pk=watch.pk, progress=watch.progress).update(
            progress=progress, seen_at=now
        )
        return False
    if watch.seen_at > stale_before:
        return False
    claimed = JobWatch.objects.filter(pk=watch.pk, progress=progress, seen_at=watch.seen_at).update(
        seen_at=now, resumed=F("resumed") + 1
    )
    return claimed == 1


def _resumed(batch_id: int, action: str, detail: str) -> None:
    BatchEvent.objects.create(
        batch_id=batch_id,
        action=action,
        detail=detail[:255],
        **BatchEvent.actor_stamp(SWEEPER),
    )


def _forget_finished(batches, jobs) -> None:
    JobWatch.objects.filter(kind=JobWatch.Kind.GENERATION).exclude(
        object_id__in=batches.values("pk")
    ).delete()
    JobWatch.objects.filter(kind=JobWatch.Kind.CARD_STOCK_IMPORT).exclude(
        object_id__in=jobs.values("pk")
    ).delete()
