"""Row locks on vouchers, for services (here and in other apps) that read then write."""

from __future__ import annotations

from .models import Voucher
from .secrets import pick_by_code


def _locking(related: tuple[str, ...]):
    return Voucher.objects.select_for_update(of=("self",)).select_related("batch", *related)


def voucher_for_update(*, pk: int, related: tuple[str, ...] = ()) -> Voucher:
    """Lock one voucher row inside the caller's transaction; its batch (and `related`,
    e.g. a rule another app keeps on the batch) come in the same query, unlocked."""
    return _locking(related).get(pk=pk)


def voucher_for_update_by_code(raw_code: str, *, related: tuple[str, ...] = ()) -> Voucher | None:
    """Find (through the blind index, both forms in one query, the exact form first) and
    lock the voucher with this code; None if there is none."""
    return pick_by_code(_locking(related), raw_code)


def voucher_for_update_by_serial(serial: str, *, related: tuple[str, ...] = ()) -> Voucher | None:
    return _locking(related).filter(serial=serial).first()
