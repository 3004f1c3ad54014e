"""Row locks on vouchers, for services (here and in other apps) that read then write."""

from __future__ import annotations

from typing import Any

from .models import Voucher
from .secrets import pick_by_code

Annotations = dict[str, Any] | None


def _locking(related: tuple[str, ...], annotate: Annotations):
    vouchers = Voucher.objects.select_for_update(of=("self",)).select_related("batch", *related)
    return vouchers.annotate(**annotate) if annotate else vouchers


def voucher_for_update(
    *, pk: int, related: tuple[str, ...] = (), annotate: Annotations = None
) -> Voucher:
    """Lock one voucher row inside the caller's transaction; its batch (and `related`,
    e.g. a rule another app keeps on the batch) come in the same query, unlocked, and so
    do the caller's `annotate` expressions (e.g. a check of a row it cached)."""
    return _locking(related, annotate).get(pk=pk)


def voucher_for_update_by_code(
    raw_code: str, *, related: tuple[str, ...] = (), annotate: Annotations = None
) -> Voucher | None:
    """Find (through the blind index, both forms in one query, the exact form first) and
    lock the voucher with this code; None if there is none."""
    return pick_by_code(_locking(related, annotate), raw_code)


def voucher_for_update_by_serial(
    serial: str, *, related: tuple[str, ...] = (), annotate: Annotations = None
) -> Voucher | None:
    return _locking(related, annotate).filter(serial=serial).first()
