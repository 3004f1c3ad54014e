"""A real task through a real worker over the real broker (Redis in CI)."""

import time

import pytest
from django.conf import settings
from django.utils import timezone

from riskcontrol.models import IdempotencyKey
from riskcontrol.tasks import idempotency_purge_expired
from tests.riskcontrol.factories import partner_client_with_key
from tests.utils import IN_CI

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis") and not IN_CI,
    reason="real-worker test: set CELERY_BROKER_URL=redis://... (CI does)",
)


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_on_commit_runs_in_a_real_worker():
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    client, _raw = partner_client_with_key()
    now = timezone.now()
    IdempotencyKey.objects.create(
        client=client, key="stale", fingerprint="x", expires_at=now - timezone.timedelta(hours=1)
    )
    IdempotencyKey.objects.create(
        client=client, key="fresh", fingerprint="y", expires_at=now + timezone.timedelta(hours=1)
    )
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            idempotency_purge_expired.delay_on_commit()  # autocommit: sent right away
            deadline = time.monotonic() + 30
            while IdempotencyKey.objects.filter(key="stale").exists():
                assert time.monotonic() < deadline, "the worker did not run the task in 30 s"
                time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
