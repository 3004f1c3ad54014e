"""Extension points of the members app: higher apps plug in here, since members may not
import them (the app layers in pyproject's import-linter contracts).

- `on_tier_upgrade(callback)`: call `callback(change_ids)` after the commit of every
  transaction that moved members up a tier. Registered in an AppConfig's `ready()`
  (entitlements grants the tier's `on_upgrade` benefits this way).

The tier services announce their upgrades with `announce_tier_upgrade(changes)` right
where they write the `TierChange` rows. A callback runs after commit (never for a rolled
back change) and `robust`: one that raises is logged and does not break the event or the
review that announced it, nor the other callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from .models import TierChange

TierUpgradeCallback = Callable[[list[int]], None]

_tier_upgrade_callbacks: list[TierUpgradeCallback] = []

# The reasons that can lift a member (the rank decides whether one did).
UPGRADE_REASONS = (
    TierChange.Reason.UPGRADE,
    TierChange.Reason.THRESHOLDS,
    TierChange.Reason.MANUAL_ENDED,
)


def on_tier_upgrade(callback: TierUpgradeCallback) -> TierUpgradeCallback:
    """Register `callback(change_ids)`; registering the same callback twice keeps one."""
    if callback not in _tier_upgrade_callbacks:
        _tier_upgrade_callbacks.append(callback)
    return callback


def is_tier_upgrade(change: TierChange) -> bool:
    """A growth upgrade, a threshold change or an ended manual tier that lifted the
    member to a higher-ranked tier (or to a first tier)."""
    if change.reason not in UPGRADE_REASONS or change.to_tier_id is None:
        return False
    return change.from_tier_id is None or change.to_tier.rank > change.from_tier.rank


def announce_tier_upgrade(changes: TierChange | Iterable[TierChange]) -> None:
    """Schedule the registered callbacks for the upgrades among `changes` (saved rows),
    after the current transaction commits."""
    if isinstance(changes, TierChange):
        changes = [changes]
    ids = [change.pk for change in changes if is_tier_upgrade(change)]
    if not ids:
        return
    for callback in _tier_upgrade_callbacks:
        transaction.on_commit(_bound(callback, ids), robust=True)


def _bound(callback: TierUpgradeCallback, ids: list[int]) -> Callable[[], None]:
    # Not functools.partial: Django names a failing robust callback by its __qualname__.
    def run() -> None:
        callback(ids)

    run.__qualname__ = getattr(callback, "__qualname__", "tier upgrade callback")
    return run
