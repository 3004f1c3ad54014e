"""Redemption reads: staff assignments, today's redemptions, a voucher's expiry as the clerk
sees it. (The clerk's "check" counts failed guesses, so it is a service:
`redemption.services.redemption_preview`.)"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from vouchers.models import Voucher

from .models import Redemption, Store, StoreStaff


def staff_assignments(user) -> QuerySet[StoreStaff]:
    return StoreStaff.objects.filter(user=user, store__active=True).select_related("store")


def todays_redemptions(store: Store) -> QuerySet[Redemption]:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Redemption.objects.filter(store=store, redeemed_at__gte=start)
        .select_related("voucher", "batch")
        .order_by("-redeemed_at")
    )


def expires_text(voucher: Voucher) -> str:
    moment: dt.datetime | None = voucher.expires_at or voucher.batch.valid_until
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
