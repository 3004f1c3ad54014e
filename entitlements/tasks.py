"""Celery tasks of the entitlements app: thin, idempotent wrappers over services (each
imports its service inside the task body, the documented cycle breaker).

- `upgrade_grants_task`: the `on_upgrade` grants of tier upgrades, enqueued after the
  upgrade's commit by `enqueue_upgrade_grants` (registered with `members.hooks`);
- `upgrade_grants_missing_task`: hourly (beat), the safety net for lost upgrade tasks;
- `period_grants_task`: nightly (beat, just after midnight in the platform's time
  zone, where every period starts), the `each_period` grants.
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
    from .services.periodic import period_grants

    period_grants()
