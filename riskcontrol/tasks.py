from celery import shared_task

from .services import idempotency_purge_expired as _purge


@shared_task(name="riskcontrol.tasks.idempotency_purge_expired", ignore_result=True)
def idempotency_purge_expired() -> int:
    """Hourly (beat) and on demand from the admin: drop idempotency records past 24 h."""
    return _purge()
