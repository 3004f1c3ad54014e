"""Quota periods in the platform's time zone (settings.TIME_ZONE): where the period
containing a moment starts, and when the next one starts (`resets_at`)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

LIFETIME_START = dt.date(1970, 1, 1)


def period_start(period: str, now: dt.datetime) -> dt.date:
    day = timezone.localtime(now).date()
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    if period == "lifetime":
        return LIFETIME_START
    raise ValueError(f"unknown period {period!r}")


def next_period_start(period: str, start: dt.date) -> dt.date | None:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    if period in ("month", "quarter", "year"):
        months = {"month": 1, "quarter": 3, "year": 12}[period]
        index = start.year * 12 + start.month - 1 + months
        return dt.date(index // 12, index % 12 + 1, 1)
    return None  # lifetime


def resets_at(period: str, now: dt.datetime) -> dt.datetime | None:
    """The moment the quota of the period containing `now` starts afresh (local
    midnight), None for a lifetime quota."""
    following = next_period_start(period, period_start(period, now))
    if following is None:
        return None
    midnight = dt.datetime.combine(following, dt.time.min)
    return timezone.make_aware(midnight, timezone.get_current_timezone())
