"""Voucher reads shared by the API, the admin and other apps."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from members.models import Member
from riskcontrol.core.errors import NotFound

from .models import Voucher, VoucherBatch
from .secrets import pick_by_code


def batch_get(*, code: str) -> VoucherBatch:
    batch = VoucherBatch.objects.filter(code=code).first()
    if batch is None:
        raise NotFound(_("No batch with this code."))
    return batch


def _empty_stock() -> dict[str, int]:
    return dict.fromkeys(Voucher.Status.values, 0)


def batch_stock_many(batch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Vouchers per status for several batches, in one GROUP BY (no counter rows)."""
    ids = list(batch_ids)
    stock = {batch_id: _empty_stock() for batch_id in ids}
    rows = (
        Voucher.objects.filter(batch_id__in=ids)
        .values_list("batch_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for batch_id, status, n in rows:
        stock[batch_id][status] = n
    for counts in stock.values():
        counts["total"] = sum(counts.values())
    return stock


def batch_stock(*, batch_id: int, max_age: int | None = None) -> dict[str, int]:
    """Vouchers per status (and `total`) of one batch; cached for `max_age` seconds
    (default `BATCH_STOCK_CACHE_SECONDS`), since partners poll it under load."""
    max_age = settings.BATCH_STOCK_CACHE_SECONDS if max_age is None else max_age
    if max_age <= 0:
        return batch_stock_many([batch_id])[batch_id]
    key = f"batch-stock:{batch_id}"
    stock = cache.get(key)
    if stock is None:
        stock = batch_stock_many([batch_id])[batch_id]
        cache.set(key, stock, max_age)
    return stock


def voucher_get(*, serial: str) -> Voucher:
    voucher = Voucher.objects.select_related("batch", "member").filter(serial=serial).first()
    if voucher is None:
        raise NotFound(_("No voucher with this serial."))
    return voucher


def member_vouchers(*, member: Member, status: str | None = None) -> QuerySet[Voucher]:
    vouchers = Voucher.objects.filter(member=member).select_related("batch", "member")
    if status:
        vouchers = vouchers.filter(status=status)
    return vouchers.order_by("-claimed_at", "-id")


def voucher_by_id(*, pk: int) -> Voucher | None:
    """The voucher with this id, its batch and member in the same query; None if none."""
    return Voucher.objects.select_related("batch", "member").filter(pk=pk).first()


def voucher_id_by_code(raw_code: str) -> int | None:
    """The id of the voucher whose code is `raw_code` — never by decrypting anything."""
    voucher = pick_by_code(Voucher.objects.only("pk", "secret_index"), raw_code)
    return voucher.pk if voucher else None


def voucher_find_by_code(raw_code: str) -> Voucher | None:
    """The voucher whose code is `raw_code` (see `voucher_id_by_code`)."""
    voucher_id = voucher_id_by_code(raw_code)
    if voucher_id is None:
        return None
    return Voucher.objects.select_related("batch", "member").get(pk=voucher_id)


def vouchers_under_older_keys(*, key_id: str) -> int:
    """Vouchers whose code is sealed under a key other than `key_id` (key rotation)."""
    return Voucher.objects.exclude(key_id=key_id).count()
