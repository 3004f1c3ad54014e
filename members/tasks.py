"""Celery tasks of the members app: thin wrappers over services (imported inside the
task body, the documented cycle breaker: services may enqueue tasks)."""

from celery import shared_task


@shared_task(name="members.tasks.points_expire_task", ignore_result=True)
def points_expire_task() -> None:
    """Hourly (beat): expire the points whose validity has ended. Re-runnable."""
    from .services import points_expire

    points_expire()
