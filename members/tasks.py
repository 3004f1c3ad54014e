"""Celery tasks of the members app: thin, idempotent wrappers over services.

Each task imports its service inside the task body (the documented cycle breaker:
`members.program` enqueues `tiers_review_task` after a threshold change).
"""

from celery import shared_task


@shared_task(name="members.tasks.tiers_review_task", ignore_result=True)
def tiers_review_task(everyone: bool = False) -> None:
    """Hourly (beat): review members whose tier hold or manual tier has ended; after a
    threshold change (`everyone`): re-evaluate every member. Safe to run twice."""
    from .services import tiers_review

    tiers_review(everyone=everyone)


@shared_task(name="members.tasks.lifecycle_recompute_task", ignore_result=True)
def lifecycle_recompute_task() -> None:
    """Nightly (beat): recompute every member's lifecycle stage."""
    from .services import lifecycle_recompute

    lifecycle_recompute()


@shared_task(name="members.tasks.points_expire_task", ignore_result=True)
def points_expire_task() -> None:
    """Hourly (beat): expire the points whose validity has ended. Re-runnable."""
    from .services import points_expire

    points_expire()


@shared_task(name="members.tasks.segments_tag_scheduled", ignore_result=True)
def segments_tag_scheduled() -> None:
    """Nightly (beat): tag the members of every segment marked "tag every night"."""
    from .services import segments_tag_scheduled as run

    run()
