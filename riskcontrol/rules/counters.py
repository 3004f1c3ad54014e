"""Fixed-window counters shared by every web process: guessing limits, API throttles.

In Redis (INCR + EXPIRE, one round trip) when `RISK_REDIS_URL` is set; in the database
(`GuessCounter` rows, each updated in its own short transaction) when it is not — the
embedded default — and whenever Redis is down or hung (see `fallback`), so an outage
neither fails requests nor lifts the limits.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import GuessCounter
from .fallback import RedisUnavailable, redis_call


def counters_add(keys: list[str], *, window: int) -> list[int]:
    """Count one more event on each key; return the keys' counts in their windows."""
    if not keys:
        return []
    if settings.RISK_REDIS_URL:
        try:
            return redis_call(
                settings.RISK_REDIS_URL, "counters", lambda client: _redis_add(client, keys, window)
            )
        except RedisUnavailable:
            pass
    now = timezone.now()
    return [_db_add(key, now, window) for key in keys]


def counters_read(keys: list[str], *, window: int) -> list[tuple[str, int, int]]:
    """(key, count, seconds until its window ends) for each key with a live window."""
    if not keys:
        return []
    if settings.RISK_REDIS_URL:
        try:
            return redis_call(
                settings.RISK_REDIS_URL, "counters", lambda client: _redis_read(client, keys)
            )
        except RedisUnavailable:
            pass
    now = timezone.now()
    counts = []
    for counter in GuessCounter.objects.filter(key__in=keys):
        ends = counter.window_start + dt.timedelta(seconds=window)
        if ends > now:
            counts.append((counter.key, counter.count, int((ends - now).total_seconds()) + 1))
    return counts


def _redis_add(client, keys: list[str], window: int) -> list[int]:
    pipe = client.pipeline()
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
    values = pipe.execute()
    return [int(values[2 * i]) for i in range(len(keys))]


def _redis_read(client, keys: list[str]) -> list[tuple[str, int, int]]:
    pipe = client.pipeline()
    for key in keys:
        pipe.get(key)
        pipe.ttl(key)
    values = pipe.execute()
    return [
        (key, int(values[2 * i]), max(1, int(values[2 * i + 1])))
        for i, key in enumerate(keys)
        if values[2 * i] is not None
    ]


def _db_add(key: str, now: dt.datetime, window: int) -> int:
    window_start_after = now - dt.timedelta(seconds=window)
    with transaction.atomic():
        counter = GuessCounter.objects.select_for_update().filter(key=key).first()
        if counter is None:
            try:
                with transaction.atomic():
                    GuessCounter.objects.create(key=key, window_start=now, count=1)
                return 1
            except IntegrityError:
                counter = GuessCounter.objects.select_for_update().get(key=key)
        if counter.window_start <= window_start_after:
            counter.window_start, counter.count = now, 1
        else:
            counter.count += 1
        counter.save(update_fields=["window_start", "count"])
        return counter.count
