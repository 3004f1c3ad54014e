"""Redis that may be down or hung: short timeouts, and a breaker that stops asking.

Counters (throttles, guessing), cached reads and progress bars use Redis when it is
configured; none of them is worth a failed request. Every Redis call here has a short
socket timeout (`REDIS_TIMEOUT_SECONDS`), and after a failure this process leaves Redis
alone for `REDIS_RETRY_SECONDS` so a hung server costs one short wait, not one per
call. Callers then fall back: counters to the database, cached reads to a miss.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


class _Breaker:
    """Per process: after a failure, Redis is skipped until `open_until` (monotonic)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, what: str, error: BaseException) -> None:
        with self._lock:
            first = not self.is_open()
            self._open_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            logger.warning(
                "Redis unavailable for %s (%s); falling back for %ss",
                what,
                type(error).__name__,
                settings.REDIS_RETRY_SECONDS,
            )

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = _Breaker()


class RedisUnavailable(Exception):
    """Redis did not answer (or is being skipped after a recent failure)."""


def redis_timeouts() -> dict[str, float]:
    seconds = settings.REDIS_TIMEOUT_SECONDS
    return {"socket_connect_timeout": seconds, "socket_timeout": seconds}


@lru_cache(maxsize=8)
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def redis_call(url: str, what: str, work):
    """Run `work(client)` against Redis at `url`; raise `RedisUnavailable` when Redis is
    down, hung or being skipped, after tripping the breaker."""
    if breaker.is_open():
        raise RedisUnavailable(what)
    try:
        return work(_client(url, settings.REDIS_TIMEOUT_SECONDS))
    except REDIS_ERRORS as error:
        breaker.trip(what, error)
        raise RedisUnavailable(what) from error


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache whose failures are misses: a read answers the default (the
    caller computes the value from the database), a write or delete is dropped."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = {**params, "OPTIONS": {**redis_timeouts(), **params.get("OPTIONS", {})}}
        super().__init__(server, params)

    def _soft(self, what: str, call, default: Any = None) -> Any:
        if breaker.is_open():
            return default
        try:
            return call()
        except REDIS_ERRORS as error:
            breaker.trip(f"cache {what}", error)
            return default

    def get(self, key, default=None, version=None):
        return self._soft(
            "get", lambda: super(FailSoftRedisCache, self).get(key, default, version), default
        )

    def get_many(self, keys, version=None):
        return self._soft(
            "get", lambda: super(FailSoftRedisCache, self).get_many(keys, version), {}
        )

    def has_key(self, key, version=None):
        return self._soft(
            "get", lambda: super(FailSoftRedisCache, self).has_key(key, version), False
        )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(
            "add", lambda: super(FailSoftRedisCache, self).add(key, value, timeout, version), False
        )

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._soft("set", lambda: super(FailSoftRedisCache, self).set(key, value, timeout, version))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(
            "set", lambda: super(FailSoftRedisCache, self).set_many(data, timeout, version), []
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(
            "touch", lambda: super(FailSoftRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key, version=None):
        return self._soft(
            "delete", lambda: super(FailSoftRedisCache, self).delete(key, version), False
        )

    def delete_many(self, keys, version=None):
        self._soft("delete", lambda: super(FailSoftRedisCache, self).delete_many(keys, version))

    def clear(self):
        return self._soft("clear", lambda: super(FailSoftRedisCache, self).clear(), False)
