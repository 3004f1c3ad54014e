"""Member reads shared by the API, the admin and other apps."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound

from . import pii
from .models import Member, PointsEntry, Tier, TierChange, TierPolicy
from .services.tiers import qualifying_growth

TIER_HISTORY_LIMIT = 50


def member_get(*, external_id: str) -> Member:
    member = (
        Member.objects.select_related("tier")
        .prefetch_related("tags")
        .filter(external_id=external_id)
        .first()
    )
    if member is None:
        raise NotFound(_("No member with this external id."))
    return member


def member_phone(member: Member) -> str | None:
    if member.phone_sealed is None:
        return None
    return pii.unseal(member.external_id, "phone", member.phone_sealed)


def member_email(member: Member) -> str | None:
    if member.email_sealed is None:
        return None
    return pii.unseal(member.external_id, "email", member.email_sealed)


def member_phone_masked(member: Member) -> str | None:
    phone = member_phone(member)
    return pii.mask_phone(phone) if phone else None


def member_email_masked(member: Member) -> str | None:
    email = member_email(member)
    return pii.mask_email(email) if email else None


def members_by_contact(term: str) -> QuerySet[Member]:
    """Members whose phone or e-mail is exactly `term` (via the blind indexes)."""
    condition = Q(pk__in=[])
    with contextlib.suppress(pii.InvalidContact):
        condition |= Q(phone_index=pii.blind_index("phone", pii.normalise_phone(term)))
    with contextlib.suppress(pii.InvalidContact):
        condition |= Q(email_index=pii.blind_index("email", pii.normalise_email(term)))
    return Member.objects.filter(condition)


def members_under_older_keys(*, key_id: str) -> int:
    """Members whose contacts are sealed under a key other than `key_id` (key rotation)."""
    return Member.objects.exclude(pii_key_id__in=["", key_id]).count()


def member_tier_progress(*, member: Member, now: dt.datetime | None = None) -> dict:
    """A member's tier standing (the tier API and the console's progress line): the tier,
    growth (all-time and qualifying), the end of the hold, the next tier by rank with the
    qualifying growth still needed, and the latest tier changes (newest first)."""
    now = now or timezone.now()
    policy = TierPolicy.current()
    growth = qualifying_growth(member_id=member.pk, now=now, policy=policy)
    higher = Tier.objects.order_by("rank")
    if member.tier_id is not None:
        higher = higher.filter(rank__gt=member.tier.rank)
    next_tier = higher.first()
    history = (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")[:TIER_HISTORY_LIMIT]
    )
    return {
        "tier": member.tier,
        "growth_value": member.growth_value,
        "qualifying_growth": growth,
        "held_until": member.tier_held_until,
        "manual_until": member.tier_manual_until,
        "next_tier": (
            {"tier": next_tier, "growth_needed": max(next_tier.threshold - growth, 0)}
            if next_tier is not None
            else None
        ),
        "history": list(history),
    }


@dataclass(frozen=True)
class PointsSummary:
    """A member's points as the console shows them: the balance (`Member.points`), what
    can be spent now, what is pending (refund window) and the next expiry."""

    balance: int
    spendable: int
    pending: int
    next_expiry_amount: int
    next_expiry_at: dt.datetime | None


def member_points_summary(*, member: Member, now: dt.datetime) -> PointsSummary:
    """Read from the open lots in two queries (no lock: a console view, not a spend)."""
    open_lots = PointsEntry.objects.filter(member=member, remaining__gt=0).exclude(
        expires_at__lte=now
    )
    sums = open_lots.aggregate(
        spendable=Sum("remaining", filter=Q(activates_at__isnull=True) | Q(activates_at__lte=now)),
        pending=Sum("remaining", filter=Q(activates_at__gt=now)),
        next_at=Min("expires_at"),
    )
    next_amount = 0
    if sums["next_at"] is not None:
        next_amount = (
            open_lots.filter(expires_at=sums["next_at"]).aggregate(n=Sum("remaining"))["n"] or 0
        )
    return PointsSummary(
        balance=member.points,
        spendable=sums["spendable"] or 0,
        pending=sums["pending"] or 0,
        next_expiry_amount=next_amount,
        next_expiry_at=sums["next_at"],
    )


@dataclass(frozen=True)
class TierProgress:
    """Where a member stands on the tier ladder: qualifying growth, the tier held, the
    next tier up and the growth still needed for it (None at the top tier)."""

    qualifying_growth: int
    tier: Tier | None
    next_tier: Tier | None
    growth_needed: int

    @property
    def at_top(self) -> bool:
        return self.next_tier is None


def member_tier_ladder(*, member: Member, now: dt.datetime) -> TierProgress:
    """Qualifying growth (the policy's window) against the next tier by rank above the
    one held; three queries (the policy, the growth sum, the next tier)."""
    # The policy's defaults when its row does not exist yet: a read creates nothing.
    policy = TierPolicy.objects.filter(pk=1).first() or TierPolicy()
    growth = qualifying_growth(member_id=member.pk, now=now, policy=policy)
    tiers = Tier.objects.order_by("rank")
    if member.tier is not None:
        tiers = tiers.filter(rank__gt=member.tier.rank)
    else:
        tiers = tiers.filter(threshold__gt=growth)
    next_tier = tiers.first()
    needed = max(next_tier.threshold - growth, 0) if next_tier is not None else 0
    return TierProgress(
        qualifying_growth=growth, tier=member.tier, next_tier=next_tier, growth_needed=needed
    )
