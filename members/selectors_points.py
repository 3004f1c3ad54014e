"""Reads of the points ledger shared by the API and the console."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from .models import Member, PointsEntry

EXPIRING_GROUPS = 12


def points_entries(*, member_id: int) -> QuerySet[PointsEntry]:
    """The member's ledger, newest first."""
    return PointsEntry.objects.filter(member_id=member_id).order_by("-created_at", "-id")


def points_summary(*, member: Member, now: dt.datetime | None = None) -> dict:
    """`{balance, spendable, pending, expiring: [{amount, expires_at}]}`: the balance is
    `Member.points`; spendable and pending are the open lots' remaining points (active
    now / not yet); expiring lists the next expiry dates of open lots with their points,
    soonest first (at most 12)."""
    now = now or timezone.now()
    lots = PointsEntry.objects.filter(member_id=member.pk, remaining__gt=0).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    totals = lots.aggregate(
        spendable=Sum("remaining", filter=Q(activates_at__isnull=True) | Q(activates_at__lte=now)),
        pending=Sum("remaining", filter=Q(activates_at__gt=now)),
    )
    expiring = [
        {"amount": row["amount"], "expires_at": row["expires_at"]}
        for row in lots.filter(expires_at__isnull=False)
        .values("expires_at")
        .annotate(amount=Sum("remaining"))
        .order_by("expires_at")[:EXPIRING_GROUPS]
    ]
    return {
        "balance": member.points,
        "spendable": totals["spendable"] or 0,
        "pending": totals["pending"] or 0,
        "expiring": expiring,
    }
