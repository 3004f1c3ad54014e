"""Celery tasks of the vouchers app: thin, idempotent wrappers over services.

Each task imports its service inside the task body, on purpose: the services enqueue
these tasks (`voucher_batch_generate_task.delay_on_commit` in
`vouchers.services.batches`), so importing the services here at the top would be an
import cycle (tasks <-> services). This is the documented exception to "imports at the
top of the module".
"""

import functools
import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)


class ResumableJobTask(DjangoTask):
    """A long job whose state lives in database rows and that the stale-job sweeper
    resumes (vouchers/sweeper.py). Starting one does not truly need the broker: when
    Redis is down or hung the request that started it still succeeds, the job waits
    (pending) and the sweeper enqueues it once the broker answers again."""

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(functools.partial(self._enqueue_or_leave, args, kwargs))

    def _enqueue_or_leave(self, args: tuple, kwargs: dict) -> None:
        if self.app.conf.task_always_eager:
            self.delay(*args, **kwargs)
            return
        try:
            self.delay(*args, **kwargs)
        except (KombuError, OSError) as error:
            logger.warning(
                "Broker unavailable (%s): %s%s left to the stale-job sweeper",
                type(error).__name__,
                self.name,
                args,
            )


@shared_task(
    name="vouchers.tasks.voucher_batch_generate_task", ignore_result=True, base=ResumableJobTask
)
def voucher_batch_generate_task(batch_id: int) -> None:
    """Generate a batch's vouchers. Safe to retry or run twice: it continues from the
    last committed chunk and stops at exactly the batch's quantity."""
    from .services import voucher_batch_generate

    voucher_batch_generate(batch_id=batch_id)


@shared_task(name="vouchers.tasks.vouchers_expire_due_task", ignore_result=True)
def vouchers_expire_due_task() -> None:
    """Every few minutes (beat): expire what is past due, close batches past their end."""
    from .services import vouchers_expire_due

    vouchers_expire_due()


@shared_task(
    name="vouchers.tasks.card_stock_validate_task", ignore_result=True, base=ResumableJobTask
)
def card_stock_validate_task(job_id: int) -> None:
    from .cardstock import card_stock_job_validate

    card_stock_job_validate(job_id=job_id)


@shared_task(
    name="vouchers.tasks.card_stock_import_task", ignore_result=True, base=ResumableJobTask
)
def card_stock_import_task(job_id: int) -> None:
    from .cardstock import card_stock_job_run

    card_stock_job_run(job_id=job_id)


@shared_task(name="vouchers.tasks.card_stock_uploads_cleanup_task", ignore_result=True)
def card_stock_uploads_cleanup_task() -> None:
    """Hourly (beat): remove sealed uploads left behind for more than 24 h."""
    from .cardstock import card_stock_uploads_cleanup

    card_stock_uploads_cleanup()


@shared_task(name="vouchers.tasks.stale_jobs_resume_task", ignore_result=True)
def stale_jobs_resume_task() -> None:
    """Every minute (beat): enqueue again generation and card-stock import jobs whose
    worker died (no progress for JOBS_STALE_SECONDS)."""
    from .sweeper import stale_jobs_resume

    stale_jobs_resume()
