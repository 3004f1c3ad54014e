"""Risk rules, where the risk engine grows: today the limits on guessed codes and tokens
(`guessing`, with the store-wide burst alert), the fixed-window counters they and the API
throttle use (`counters`, Redis with a database fallback) and the fail-soft Redis access
(`fallback`: short timeouts, a circuit breaker, the cache backend). Lists, challenges and
more alerts come next. No HTTP and no console code.
"""

from .counters import counters_add, counters_read
from .fallback import (
    REDIS_ERRORS,
    FailSoftRedisCache,
    RedisUnavailable,
    redis_call,
    redis_timeouts,
)
from .guessing import STORE_PREFIX, guess_failure_record, guess_keys, guess_limit_check

__all__ = [
    "REDIS_ERRORS",
    "STORE_PREFIX",
    "FailSoftRedisCache",
    "RedisUnavailable",
    "counters_add",
    "counters_read",
    "guess_failure_record",
    "guess_keys",
    "guess_limit_check",
    "redis_call",
    "redis_timeouts",
]
