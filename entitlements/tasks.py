"""Celery tasks of the entitlements app: thin, idempotent wrappers over services (each
imports its service inside the task body, the documented cycle breaker).

- `upgrade_grants_task`: the `on_upgrade` grants of tier upgrades, enqueued after the
  upgrade's commit by `enqueue_upgrade_grants` (registered with `members.hooks`);
- `upgrade_grants_missing_task`: hourly (beat), the safety net for lost upgrade tasks;
- `period_grants_task`: nightly (beat, just after midnight in the platform's time
  zone, where every period starts), the `each_period` grants, optionally split over
  `period_grants_shard_task`s.
Each is safe to run twice: grants carry dedupe keys.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="entitlements.tasks.upgrade_grants_task", ignore_result=True)
def upgrade_grants_task(change_ids: list[int]) -> None:
    from .services.upgrades import upgrade_grants

    upgrade_grants(change_ids=change_ids)


def enqueue_upgrade_grants(change_ids: list[int]) -> None:
    """The `members.hooks.on_tier_upgrade` callback: runs after the upgrade's commit."""
    upgrade_grants_task.delay(list(change_ids))


@shared_task(name="entitlements.tasks.upgrade_grants_missing_task", ignore_result=True)
def upgrade_grants_missing_task(days: int = 7) -> None:
    from .services.upgrades import upgrade_grants_missing

    upgrade_grants_missing(days=days)


@shared_task(name="entitlements.tasks.period_grants_task", ignore_result=True)
def period_grants_task() -> None:
    """With `BENEFITS_PERIOD_SHARDS` > 1, the run is split over that many tasks (members
    by id modulo), all for the same moment, so several workers share it."""
    from django.conf import settings
    from django.utils import timezone

    from .services.periodic import period_grants

    shards = settings.BENEFITS_PERIOD_SHARDS
    if shards <= 1:
        period_grants()
        return
    now = timezone.now().isoformat()
    for index in range(shards):
        period_grants_shard_task.delay(index, shards, now)


@shared_task(name="entitlements.tasks.period_grants_shard_task", ignore_result=True)
def period_grants_shard_task(index: int, count: int, now: str) -> None:
    import datetime as dt

    from .services.periodic import period_grants

    period_grants(now=dt.datetime.fromisoformat(now), shard=(index, count))
