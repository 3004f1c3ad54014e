"""The lifecycle stage of every member (new / growing / loyal / dormant), from the
recency and frequency of their events, recomputed nightly (beat) and by
`manage.py lifecycle_recompute`.

Days are local calendar days (settings.TIME_ZONE). With `today` the local day of `now`
and `start(N)` = local midnight of `today` minus N days, the first rule that matches
wins:

1. dormant — no event since `start(MEMBER_DORMANT_DAYS)`: `last_event_at` before it (or no
   event at all and joined before it). Default 30: the last 30 full days and today passed
   without an event.
2. new — joined (`created_at`) on or after `start(MEMBER_NEW_DAYS)` (default 30).
3. loyal — at least `MEMBER_LOYAL_MIN_EVENTS` (default 3) events of the kinds
   `MEMBER_LOYAL_EVENT_KINDS` (default purchases; empty = every kind) on or after
   `start(MEMBER_LOYAL_WINDOW_DAYS)` (default 90).
4. growing — everyone else (active, past the first days, not yet frequent).

Set-based: four UPDATE statements over the member table, each touching only members
whose stage changes; running it twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import Member, MemberEvent

Stage = Member.LifecycleStage


def _day_start(now: dt.datetime, days_back: int) -> dt.datetime:
    local = timezone.localtime(now)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return timezone.make_aware(
        dt.datetime.combine(midnight.date() - dt.timedelta(days=days_back), dt.time.min),
        timezone.get_current_timezone(),
    )


def lifecycle_conditions(now: dt.datetime) -> dict[str, Q]:
    """The condition of each stage at `now`, in the order they are tried (each applies
    to the members the earlier ones left); segments may reuse them."""
    dormant_since = _day_start(now, settings.MEMBER_DORMANT_DAYS)
    new_since = _day_start(now, settings.MEMBER_NEW_DAYS)
    loyal_since = _day_start(now, settings.MEMBER_LOYAL_WINDOW_DAYS)
    events = MemberEvent.objects.filter(occurred_at__gte=loyal_since, occurred_at__lte=now)
    if settings.MEMBER_LOYAL_EVENT_KINDS:
        events = events.filter(kind__in=settings.MEMBER_LOYAL_EVENT_KINDS)
    frequent = (
        events.order_by()
        .values("member_id")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.MEMBER_LOYAL_MIN_EVENTS)
        .values("member_id")
    )
    dormant = Q(last_event_at__lt=dormant_since) | Q(
        last_event_at__isnull=True, created_at__lt=dormant_since
    )
    new = ~dormant & Q(created_at__gte=new_since)
    loyal = ~dormant & ~Q(created_at__gte=new_since) & Q(pk__in=frequent)
    growing = ~dormant & ~Q(created_at__gte=new_since) & ~Q(pk__in=frequent)
    return {Stage.DORMANT: dormant, Stage.NEW: new, Stage.LOYAL: loyal, Stage.GROWING: growing}


def lifecycle_recompute(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Set every member's lifecycle stage as of `now`; returns how many members moved
    into each stage."""
    now = now or timezone.now()
    moved: dict[str, int] = {}
    with transaction.atomic():
        for stage, condition in lifecycle_conditions(now).items():
            moved[str(stage)] = (
                Member.objects.filter(condition)
                .exclude(lifecycle_stage=stage)
                .update(lifecycle_stage=stage)
            )
    return moved
