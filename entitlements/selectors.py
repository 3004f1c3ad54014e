"""Benefit reads shared by the partner API and the console: the catalog, a benefit's
stock, a grant as a client may see it, and `member_entitlements` — everything a member
holds and may take now, in a fixed handful of queries whatever they hold."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db.models import (
    CharField,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Tier
from members.services.segments import segment_members
from riskcontrol.core.errors import NotFound, ValidationFailed
from vouchers.models import Voucher
from vouchers.rules import voucher_redeem_refusal

from .models import (
    Benefit,
    BenefitFallback,
    Grant,
    GrantVoucher,
    PackItem,
    QuotaUse,
    TierBenefit,
)
from .periods import period_start, resets_at
from .sources import stock_by_source

# --- the catalog -----------------------------------------------------------------------


def _catalog() -> QuerySet[Benefit]:
    return Benefit.objects.prefetch_related(
        Prefetch("items", queryset=_ordered_items()),
        Prefetch("fallback_links", queryset=_ordered_fallbacks()),
    )


def _ordered_items() -> QuerySet[PackItem]:
    return PackItem.objects.select_related("item").order_by("position", "id")


def _ordered_fallbacks() -> QuerySet[BenefitFallback]:
    return BenefitFallback.objects.select_related("fallback").order_by("position", "id")


def benefit_list(*, kind: str | None = None, tier: str | None = None) -> QuerySet[Benefit]:
    """The catalog in priority order, optionally of one kind or only the benefits in one
    tier's matrix. Raises ValidationFailed for an unknown kind or tier code."""
    benefits = _catalog()
    if kind:
        if kind not in Benefit.Kind.values:
            raise ValidationFailed(
                {"kind": [_("One of: %(values)s") % {"values": ", ".join(Benefit.Kind.values)}]}
            )
        benefits = benefits.filter(kind=kind)
    if tier:
        tier_id = Tier.objects.filter(code=tier).values_list("pk", flat=True).first()
        if tier_id is None:
            raise ValidationFailed({"tier": [_("No tier with this code.")]})
        benefits = benefits.filter(
            pk__in=TierBenefit.objects.filter(tier_id=tier_id).values("benefit_id")
        )
    return benefits.order_by("priority", "code")


def benefit_detail(*, code: str) -> Benefit:
    benefit = _catalog().filter(code=code).first()
    if benefit is None:
        raise NotFound(_("No benefit with this code."))
    return benefit


def benefit_stock(benefit: Benefit) -> int | None:
    """Units of the benefit that can be granted now: the sum over its sources (one round
    of queries per source kind); a sourceless gift, service or privilege counts its own
    `units_left`; a pack, how many whole packs its items allow. None: no limit known."""
    if benefit.kind == Benefit.Kind.PACK:
        items = list(benefit.items.all())
        whole: list[int] = []
        for item in items:
            stock = benefit_stock(item.item)
            if stock is not None:
                whole.append(stock // item.quantity)
        return min(whole) if whole else None
    sources = list(benefit.sources.select_related("batch"))
    if not sources:
        return benefit.units_left if benefit.has_stock_of_its_own else 0
    by_source = stock_by_source(sources)
    if any(by_source.get(source.pk) is None for source in sources):
        return None
    return sum(by_source[source.pk] or 0 for source in sources)


# --- grants ----------------------------------------------------------------------------


def _grant_rows() -> QuerySet[Grant]:
    vouchers = GrantVoucher.objects.select_related("voucher__batch", "voucher__member").order_by(
        "id"
    )
    return Grant.objects.select_related("benefit", "substituted_from", "member").prefetch_related(
        Prefetch("grant_vouchers", queryset=vouchers),
        Prefetch(
            "children",
            queryset=Grant.objects.select_related("benefit", "substituted_from", "member")
            .prefetch_related(Prefetch("grant_vouchers", queryset=vouchers))
            .order_by("id"),
        ),
    )


def grant_for_client(*, grant_id: str, partner_client_id: int) -> Grant:
    """The grant with this public id, if the client asked for it. Any other id —
    another client's grant, one made by an operator or the tier automation, a malformed
    id — answers NotFound exactly like an unknown one."""
    try:
        uid = uuid.UUID(grant_id)
    except ValueError:
        raise NotFound(_("No grant with this id.")) from None
    grant = _grant_rows().filter(uid=uid, partner_client_id=partner_client_id).first()
    if grant is None:
        raise NotFound(_("No grant with this id."))
    return grant


def grant_children(grant: Grant) -> list[Grant]:
    """A pack grant's child grants with their vouchers (freshly read)."""
    return list(_grant_rows().filter(parent=grant).order_by("id"))


# --- a member's entitlements -----------------------------------------------------------


def entitlements_member(*, external_id: str) -> Member:
    """The member with their tier, in one query (no tags: the entitlements need none)."""
    member = Member.objects.select_related("tier").filter(external_id=external_id).first()
    if member is None:
        raise NotFound(_("No member with this external id."))
    return member


@dataclass
class Quota:
    period: str
    limit: int
    used: int
    resets_at: dt.datetime | None


@dataclass
class Claimable:
    benefit: Benefit
    via: str
    quota: Quota | None
    points_price: int | None


@dataclass
class Privilege:
    benefit: Benefit
    valid_until: dt.datetime | None


@dataclass
class Entitlements:
    member: Member
    holdings: list[Voucher] = field(default_factory=list)
    claimable: list[Claimable] = field(default_factory=list)
    privileges: list[Privilege] = field(default_factory=list)


def _offered_now(now: dt.datetime, member: Member) -> Q:
    """What `benefit_grant` checks first (active window, region), as a filter."""
    return (
        Q(active=True)
        & (Q(active_from__isnull=True) | Q(active_from__lte=now))
        & (Q(active_until__isnull=True) | Q(active_until__gt=now))
        & (Q(region="") | Q(region=member.region))
    )


def _holdings(member: Member, now: dt.datetime) -> list[Voucher]:
    """The member's vouchers they can still use (claimed or frozen, not past their
    expiry): benefit-granted ones by the benefit's priority first, then by expiry. Each
    carries `benefit_code` (the benefit it was granted as, or None), `usable_now` and
    `not_usable_because` (a `vouchers.rules.Refusal` value, or None)."""
    granted = GrantVoucher.objects.filter(voucher_id=OuterRef("pk"))
    vouchers = (
        Voucher.objects.filter(
            member_id=member.pk, status__in=[Voucher.Status.CLAIMED, Voucher.Status.FROZEN]
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("batch")
        .annotate(
            benefit_code=Subquery(granted.values("grant__benefit__code")[:1]),
            benefit_priority=Subquery(granted.values("grant__benefit__priority")[:1]),
        )
        .order_by(
            F("benefit_priority").asc(nulls_last=True),
            F("expires_at").asc(nulls_last=True),
            "id",
        )
    )
    holdings = list(vouchers)
    for voucher in holdings:
        voucher.member = member
        refusal = voucher_redeem_refusal(voucher, batch=voucher.batch, at=now)
        voucher.usable_now = refusal is None
        voucher.not_usable_because = str(refusal) if refusal else None
    return holdings


def _claimable(member: Member, now: dt.datetime) -> list[Claimable]:
    """The tier matrix rows the member may claim (mode claimable) and the benefits they
    may exchange points for, offered now (active, region, segment), in one query plus
    one for the quota counters of the current periods."""
    benefits = Benefit.objects.filter(_offered_now(now, member)).select_related("segment")
    if member.tier_id:
        benefits = (
            benefits.annotate(
                row=FilteredRelation(
                    "tier_rows",
                    condition=Q(tier_rows__tier_id=member.tier_id)
                    & Q(tier_rows__mode=TierBenefit.Mode.CLAIMABLE),
                )
            )
            .filter(Q(points_price__isnull=False) | Q(row__id__isnull=False))
            .annotate(row_quota=F("row__quota"), row_period=F("row__period"))
        )
    else:
        benefits = benefits.filter(points_price__isnull=False).annotate(
            row_quota=Value(None, output_field=IntegerField()),
            row_period=Value(None, output_field=CharField()),
        )
    listed = list(benefits.order_by("priority", "code"))
    listed = _in_segments(listed, member, now)
    if not listed:
        return []
    starts = {period_start(period, now) for period in Benefit.Period.values}
    used = {
        (benefit_id, scope, start): n
        for benefit_id, scope, start, n in QuotaUse.objects.filter(
            member_id=member.pk, period_start__in=starts
        ).values_list("benefit_id", "scope", "period_start", "used")
    }

    def quota(benefit: Benefit, scope: str, limit: int, period: str) -> Quota:
        return Quota(
            period=period,
            limit=limit,
            used=used.get((benefit.pk, scope, period_start(period, now)), 0),
            resets_at=resets_at(period, now),
        )

    claimable = []
    for benefit in listed:
        if benefit.row_quota is not None:
            claimable.append(
                Claimable(
                    benefit=benefit,
                    via=Grant.Via.TIER,
                    quota=quota(
                        benefit, QuotaUse.Scope.TIER, benefit.row_quota, benefit.row_period
                    ),
                    points_price=None,
                )
            )
        if benefit.points_price is not None:
            claimable.append(
                Claimable(
                    benefit=benefit,
                    via=Grant.Via.POINTS,
                    quota=(
                        quota(
                            benefit,
                            QuotaUse.Scope.POINTS,
                            benefit.exchange_limit,
                            benefit.exchange_period,
                        )
                        if benefit.exchange_limit
                        else None
                    ),
                    points_price=benefit.points_price,
                )
            )
    return claimable


def _in_segments(benefits: list[Benefit], member: Member, now: dt.datetime) -> list[Benefit]:
    """Drop segment-only benefits the member is not in: one query per distinct segment
    among them (catalog-bound, not holdings-bound; usually none)."""
    segments = {benefit.segment_id: benefit.segment for benefit in benefits if benefit.segment_id}
    inside = {
        segment_id
        for segment_id, segment in segments.items()
        if segment_members(segment, now=now).filter(pk=member.pk).exists()
    }
    return [b for b in benefits if not b.segment_id or b.segment_id in inside]


def _privileges(member: Member, now: dt.datetime) -> list[Privilege]:
    """Fulfilled privilege grants still valid (a privilege without `valid_days` never
    ends); one entry per benefit, with its latest end."""
    grants = (
        Grant.objects.filter(
            member_id=member.pk,
            status=Grant.Status.FULFILLED,
            benefit__kind=Benefit.Kind.PRIVILEGE,
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .select_related("benefit")
        .order_by("benefit__priority", "benefit__code", "id")
    )
    by_benefit: dict[int, Privilege] = {}
    for grant in grants:
        held = by_benefit.get(grant.benefit_id)
        if held is None:
            by_benefit[grant.benefit_id] = Privilege(grant.benefit, grant.valid_until)
        elif held.valid_until is not None and (
            grant.valid_until is None or grant.valid_until > held.valid_until
        ):
            held.valid_until = grant.valid_until
    return list(by_benefit.values())


def member_entitlements(member: Member, now: dt.datetime | None = None) -> Entitlements:
    """Everything the member holds and may take now, each list in priority order.
    Queries: holdings 1, claimable 2 (+1 per distinct segment-only benefit's segment),
    privileges 1 — the same count for 5 holdings or 500."""
    now = now or timezone.now()
    return Entitlements(
        member=member,
        holdings=_holdings(member, now),
        claimable=_claimable(member, now),
        privileges=_privileges(member, now),
    )
