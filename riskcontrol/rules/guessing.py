"""Code-guessing defence: failed lookups (unknown codes, bad tokens) counted per actor.

The limit applies to the actor that guesses — the clerk, or the partner client — never
to a whole store: one client sending unknown codes must not lock every clerk there out.
Failures are also counted per store; a store-wide burst raises a `RiskAlert` (and a
warning in the log) for the operators, and slows nobody but the guessing actors, each
under its own limit. Counts live in `counters` (Redis, or the database when Redis is
not configured or unavailable). Callers count *outside* the transaction that failed, so
the count survives its rollback.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.translation import gettext as _

from ..core.errors import RateLimited
from ..models import RiskAlert
from .counters import counters_add, counters_read

logger = logging.getLogger(__name__)

STORE_PREFIX = "guess:store:"


def _window() -> int:
    return settings.GUESS_WINDOW_SECONDS


def guess_keys(
    *, user_id: int | None = None, store_id: int | None = None, client_id: int | None = None
) -> list[str]:
    """The counters a failed lookup adds to: the actor's (clerk or partner client), which
    the limit applies to, and the store's, which only raises an alert."""
    keys = []
    if user_id is not None:
        keys.append(f"guess:user:{user_id}")
    if client_id is not None:
        keys.append(f"guess:client:{client_id}")
    if store_id is not None:
        keys.append(f"{STORE_PREFIX}{store_id}")
    return keys


def _actor_keys(keys: list[str]) -> list[str]:
    return [key for key in keys if not key.startswith(STORE_PREFIX)]


def guess_limit_check(keys: list[str]) -> None:
    """Raise RateLimited (with Retry-After) if the actor has used up its failures."""
    limit = settings.GUESS_LIMIT
    for _key, count, retry_after in counters_read(_actor_keys(keys), window=_window()):
        if count >= limit:
            raise RateLimited(retry_after=max(1, retry_after))


def guess_failure_record(keys: list[str], *, actor_label: str = "") -> None:
    """Count one failed lookup. When a store's count reaches `GUESS_STORE_ALERT_AT`
    within the window, record one alert for that window."""
    counts = counters_add(keys, window=_window())
    threshold = settings.GUESS_STORE_ALERT_AT
    for key, count in zip(keys, counts, strict=True):
        if key.startswith(STORE_PREFIX) and count == threshold:
            _store_burst_alert(store=key.removeprefix(STORE_PREFIX), count=count, by=actor_label)


def _store_burst_alert(*, store: str, count: int, by: str) -> None:
    minutes = max(1, _window() // 60)
    logger.warning(
        "Guessing burst: store id %s had %d failed code lookups within %d minutes (latest by %s)",
        store,
        count,
        minutes,
        by or "-",
    )
    RiskAlert.objects.create(
        kind=RiskAlert.Kind.GUESSING_BURST,
        subject=_("store id %(store)s") % {"store": store},
        detail=(
            _("%(count)d failed code lookups within %(minutes)d minutes; the latest by %(actor)s.")
            % {"count": count, "minutes": minutes, "actor": by or "-"}
        )[:255],
        count=count,
    )
