"""Celery tasks of the members app: thin wrappers over services (imported inside the
task body, as in vouchers/tasks.py)."""

from celery import shared_task


@shared_task(name="members.tasks.segments_tag_scheduled", ignore_result=True)
def segments_tag_scheduled() -> None:
    """Nightly (beat): tag the members of every segment marked "tag every night"."""
    from .services import segments_tag_scheduled as run

    run()
