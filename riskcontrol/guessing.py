"""Code-guessing defence: failed lookups counted per clerk, per store and per client.

Redis (INCR + EXPIRE) when `RISK_REDIS_URL` is set — every web process sees one count;
otherwise a database row, updated in its own short transaction. Callers count *outside*
the transaction that failed, so the count survives its rollback.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import RateLimited
from .models import GuessCounter


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2)


def _window() -> int:
    return settings.GUESS_WINDOW_SECONDS


def guess_keys(
    *, user_id: int | None = None, store_id: int | None = None, client_id: int | None = None
) -> list[str]:
    keys = []
    if user_id is not None:
        keys.append(f"guess:user:{user_id}")
    if store_id is not None:
        keys.append(f"guess:store:{store_id}")
    if client_id is not None:
        keys.append(f"guess:client:{client_id}")
    return keys


def guess_limit_check(keys: list[str]) -> None:
    """Raise RateLimited (with Retry-After) if any key has used up its failures."""
    limit = settings.GUESS_LIMIT
    for _key, count, retry_after in _counts(keys):
        if count >= limit:
            raise RateLimited(retry_after=max(1, retry_after))


def guess_failure_record(keys: list[str]) -> None:
    if settings.RISK_REDIS_URL:
        client = _redis(settings.RISK_REDIS_URL)
        pipe = client.pipeline()
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, _window(), nx=True)
        pipe.execute()
        return
    now = timezone.now()
    for key in keys:
        _db_increment(key, now)


def _db_increment(key: str, now: dt.datetime) -> None:
    window_start_after = now - dt.timedelta(seconds=_window())
    with transaction.atomic():
        counter = GuessCounter.objects.select_for_update().filter(key=key).first()
        if counter is None:
            try:
                with transaction.atomic():
                    GuessCounter.objects.create(key=key, window_start=now, count=1)
                return
            except IntegrityError:
                counter = GuessCounter.objects.select_for_update().get(key=key)
        if counter.window_start <= window_start_after:
            counter.window_start, counter.count = now, 1
        else:
            counter.count += 1
        counter.save(update_fields=["window_start", "count"])


def _counts(keys: list[str]) -> list[tuple[str, int, int]]:
    if not keys:
        return []
    if settings.RISK_REDIS_URL:
        client = _redis(settings.RISK_REDIS_URL)
        pipe = client.pipeline()
        for key in keys:
            pipe.get(key)
            pipe.ttl(key)
        values = pipe.execute()
        return [
            (key, int(values[2 * i] or 0), int(values[2 * i + 1] or 0))
            for i, key in enumerate(keys)
        ]
    now = timezone.now()
    counts = []
    for counter in GuessCounter.objects.filter(key__in=keys):
        ends = counter.window_start + dt.timedelta(seconds=_window())
        if ends > now:
            counts.append((counter.key, counter.count, int((ends - now).total_seconds()) + 1))
    return counts
