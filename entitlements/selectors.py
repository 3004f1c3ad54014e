"""Benefit reads shared by the partner API and the console: the catalog, a benefit's
stock, a grant as a client may see it, and `member_entitlements` — everything a member
holds and may take now, in a fixed handful of queries whatever they hold."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Segment, Tier
from members.services.segments import segment_members
from riskcontrol.core.errors import NotFound, ValidationFailed
from vouchers.rules import voucher_redeem_refusal

from .models import (
    Benefit,
    BenefitFallback,
    Grant,
    GrantVoucher,
    PackItem,
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
    sources = list(benefit.sources.all())
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
    """A pack grant's child grants with their vouchers (freshly read); no query for a
    grant of any other kind."""
    if grant.benefit.kind != Benefit.Kind.PACK:
        return []
    return list(_grant_rows().filter(parent=grant).order_by("id"))


# --- a member's entitlements -----------------------------------------------------------


_MEMBER = """
SELECT m.id, m.external_id, m.points, m.region, m.tier_id, t.code
FROM members_member m
LEFT JOIN members_tier t ON t.id = m.tier_id
WHERE m.external_id = %s
"""


def _partial(model, values: dict):
    """An instance holding only `values` (attname -> value), its other fields deferred,
    as `.only()` would build it: reading one loads it, saving writes only these."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def entitlements_member(*, external_id: str) -> Member:
    """The member with what the page reads (id, external_id, points, region, tier and
    its code), in one plain statement: through the ORM this lookup cost a tenth of the
    page (docs/BENCHMARKS.md)."""
    with connection.cursor() as cursor:
        cursor.execute(_MEMBER, [external_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No member with this external id."))
    pk, external_id, points, region, tier_id, tier_code = row
    member = _partial(
        Member,
        {
            "id": pk,
            "external_id": external_id,
            "points": points,
            "region": region,
            "tier_id": tier_id,
        },
    )
    if tier_id is not None:
        member.tier = _partial(Tier, {"id": tier_id, "code": tier_code})
    return member


@dataclass(slots=True)
class BenefitBrief:
    """What a member's page shows of a benefit."""

    code: str
    name: str
    kind: str
    face_value: Decimal | None
    currency: str
    description: str
    image_url: str


@dataclass(slots=True)
class Holding:
    """A voucher the member can still use (no code), with its batch's rules."""

    serial: str
    batch: str
    kind: str
    status: str
    value_type: str
    face_value: Decimal
    currency: str
    percent_off: Decimal | None
    max_discount: Decimal | None
    min_order_amount: Decimal | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None  # the batch's end
    expires_at: dt.datetime | None  # the voucher's own
    claimed_at: dt.datetime | None
    redeemed_at: dt.datetime | None
    channel: str
    benefit: str | None  # the benefit it was granted as, if it came with a grant
    usable_now: bool
    not_usable_because: str | None  # a `vouchers.rules.Refusal` value


@dataclass(slots=True)
class Quota:
    period: str
    limit: int
    used: int
    resets_at: dt.datetime | None


@dataclass(slots=True)
class Claimable:
    benefit: BenefitBrief
    via: str
    quota: Quota | None
    points_price: int | None


@dataclass(slots=True)
class Privilege:
    benefit: BenefitBrief
    valid_until: dt.datetime | None


@dataclass
class Entitlements:
    member: Member
    holdings: list[Holding] = field(default_factory=list)
    claimable: list[Claimable] = field(default_factory=list)
    privileges: list[Privilege] = field(default_factory=list)


# The page is read on every opening of a member's app. Its three lists are three
# statements written out in SQL and read as rows: building them through the ORM (query
# compilation, ~100 model instances) cost several times their database time
# (bench/entitlements.py, docs/BENCHMARKS.md). The SQL is plain enough for PostgreSQL
# and SQLite alike; `_rows` adapts parameters and, on SQLite, the values read back.

_HOLDINGS = """
SELECT v.serial, v.status, v.channel, v.claimed_at, v.redeemed_at, v.expires_at,
       v.face_value, bn.code, b.code, b.kind, b.value_type, b.face_value, b.currency,
       b.percent_off, b.max_discount, b.min_order_amount, b.valid_from, b.valid_until,
       b.allow_unclaimed_redemption
FROM vouchers_voucher v
JOIN vouchers_voucherbatch b ON b.id = v.batch_id
LEFT JOIN entitlements_grantvoucher gv ON gv.voucher_id = v.id
LEFT JOIN entitlements_grant g ON g.id = gv.grant_id
LEFT JOIN entitlements_benefit bn ON bn.id = g.benefit_id
WHERE v.member_id = %s AND v.status IN ('claimed', 'frozen')
  AND (v.expires_at IS NULL OR v.expires_at > %s)
ORDER BY bn.priority ASC NULLS LAST, v.expires_at ASC NULLS LAST, v.id
"""
# Holding columns that SQLite hands back as text or floats.
_HOLDING_TYPES = "...tttd....d.dddtt."

# Each CASE takes the start of the current day, week, month, quarter, year and lifetime
# (the platform's time zone: entitlements.periods), in `_PERIODS` order.
_PERIODS = ("day", "week", "month", "quarter", "year", "lifetime")

# Offered now (active, window, region: what `benefit_grant` checks first) and either in
# the member's tier matrix as claimable or exchangeable for points; with the counters of
# the current tier and exchange periods.
_CLAIMABLE = """
SELECT bn.id, bn.segment_id, tb.quota, tb.period, bn.points_price, bn.exchange_limit,
       bn.exchange_period, qt.used, qp.used,
       bn.code, bn.name, bn.kind, bn.face_value, bn.currency, bn.description, bn.image_url
FROM entitlements_benefit bn
LEFT JOIN entitlements_tierbenefit tb
  ON tb.benefit_id = bn.id AND tb.tier_id = %s AND tb.mode = 'claimable'
LEFT JOIN entitlements_quotause qt
  ON qt.member_id = %s AND qt.benefit_id = bn.id AND qt.scope = 'tier'
  AND qt.period_start = CASE tb.period WHEN 'day' THEN %s WHEN 'week' THEN %s
    WHEN 'month' THEN %s WHEN 'quarter' THEN %s WHEN 'year' THEN %s ELSE %s END
LEFT JOIN entitlements_quotause qp
  ON qp.member_id = %s AND qp.benefit_id = bn.id AND qp.scope = 'points'
  AND qp.period_start = CASE bn.exchange_period WHEN 'day' THEN %s WHEN 'week' THEN %s
    WHEN 'month' THEN %s WHEN 'quarter' THEN %s WHEN 'year' THEN %s ELSE %s END
WHERE bn.active
  AND (bn.active_from IS NULL OR bn.active_from <= %s)
  AND (bn.active_until IS NULL OR bn.active_until > %s)
  AND (bn.region = '' OR bn.region = %s)
  AND (bn.points_price IS NOT NULL OR tb.id IS NOT NULL)
ORDER BY bn.priority, bn.code
"""
_CLAIMABLE_TYPES = "............d..."

_PRIVILEGES = """
SELECT g.benefit_id, g.valid_until,
       bn.code, bn.name, bn.kind, bn.face_value, bn.currency, bn.description, bn.image_url
FROM entitlements_grant g
JOIN entitlements_benefit bn ON bn.id = g.benefit_id
WHERE g.member_id = %s AND g.status = 'fulfilled' AND bn.kind = 'privilege'
  AND (g.valid_until IS NULL OR g.valid_until > %s)
ORDER BY bn.priority, bn.code, g.id
"""
_PRIVILEGE_TYPES = ".t...d..."


def _sqlite_value(kind: str, value):
    if value is None or kind == ".":
        return value
    if kind == "t":  # a naive UTC datetime (Django's SQLite storage)
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    return Decimal(str(value))


def _rows(sql: str, params: list, types: str) -> list[tuple]:
    """Run `sql`; `params` are adapted as the ORM would (datetimes, dates), and on
    SQLite the columns marked in `types` (t: datetime, d: decimal) are converted back."""
    ops = connection.ops
    adapted = [
        ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.datetime)
        else ops.adapt_datefield_value(value)
        if isinstance(value, dt.date)
        else value
        for value in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, adapted)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return rows
    return [tuple(_sqlite_value(k, v) for k, v in zip(types, row, strict=True)) for row in rows]


def _holdings(member: Member, now: dt.datetime) -> list[Holding]:
    """The member's vouchers they can still use (claimed or frozen, not past their
    expiry), in one statement: benefit-granted ones by the benefit's priority first,
    then by expiry. Whether each is usable now is `vouchers.rules.voucher_redeem_refusal`'s
    decision, over the columns it reads."""
    holdings = []
    for (
        serial,
        status,
        channel,
        claimed_at,
        redeemed_at,
        expires_at,
        own_value,
        benefit_code,
        batch_code,
        kind,
        value_type,
        batch_value,
        currency,
        percent_off,
        max_discount,
        min_order,
        valid_from,
        valid_until,
        unclaimed,
    ) in _rows(_HOLDINGS, [member.pk, now], _HOLDING_TYPES):
        refusal = voucher_redeem_refusal(
            SimpleNamespace(status=status, expires_at=expires_at),
            batch=SimpleNamespace(
                valid_from=valid_from,
                valid_until=valid_until,
                allow_unclaimed_redemption=bool(unclaimed),
            ),
            at=now,
        )
        holdings.append(
            Holding(
                serial=serial,
                batch=batch_code,
                kind=kind,
                status=status,
                value_type=value_type,
                face_value=own_value if own_value is not None else batch_value,
                currency=currency,
                percent_off=percent_off,
                max_discount=max_discount,
                min_order_amount=min_order,
                valid_from=valid_from,
                valid_until=valid_until,
                expires_at=expires_at,
                claimed_at=claimed_at,
                redeemed_at=redeemed_at,
                channel=channel,
                benefit=benefit_code,
                usable_now=refusal is None,
                not_usable_because=str(refusal) if refusal else None,
            )
        )
    return holdings


def _claimable(member: Member, now: dt.datetime) -> list[Claimable]:
    """The tier matrix rows the member may claim (mode claimable) and the benefits they
    may exchange points for, offered now (active, region, segment), each with what the
    member used of its quota in the current period: one statement."""
    starts = [period_start(period, now) for period in _PERIODS]
    params = [
        member.tier_id,
        member.pk,
        *starts,
        member.pk,
        *starts,
        now,
        now,
        member.region,
    ]
    rows = _in_segments(_rows(_CLAIMABLE, params, _CLAIMABLE_TYPES), member, now)
    claimable = []
    for (
        _pk,
        _segment,
        row_quota,
        row_period,
        price,
        limit,
        period,
        tier_used,
        points_used,
        *brief,
    ) in rows:
        benefit = BenefitBrief(*brief)
        if row_quota is not None:
            quota = Quota(row_period, row_quota, tier_used or 0, resets_at(row_period, now))
            claimable.append(Claimable(benefit, Grant.Via.TIER, quota, None))
        if price is not None:
            quota = (
                Quota(period, limit, points_used or 0, resets_at(period, now)) if limit else None
            )
            claimable.append(Claimable(benefit, Grant.Via.POINTS, quota, price))
    return claimable


def _in_segments(rows: list[tuple], member: Member, now: dt.datetime) -> list[tuple]:
    """Drop rows (pk, segment_id, ...) of segment-only benefits the member is not in:
    one query for the segments and one per distinct segment among them (catalog-bound,
    not holdings-bound; usually none)."""
    segment_ids = {row[1] for row in rows if row[1]}
    if not segment_ids:
        return rows
    inside = {
        segment.pk
        for segment in Segment.objects.filter(pk__in=segment_ids)
        if segment_members(segment, now=now).filter(pk=member.pk).exists()
    }
    return [row for row in rows if not row[1] or row[1] in inside]


def _privileges(member: Member, now: dt.datetime) -> list[Privilege]:
    """Fulfilled privilege grants still valid (a privilege without `valid_days` never
    ends); one entry per benefit, with its latest end: one statement."""
    by_benefit: dict[int, Privilege] = {}
    for benefit_id, valid_until, *brief in _rows(_PRIVILEGES, [member.pk, now], _PRIVILEGE_TYPES):
        held = by_benefit.get(benefit_id)
        if held is None:
            by_benefit[benefit_id] = Privilege(BenefitBrief(*brief), valid_until)
        elif held.valid_until is not None and (
            valid_until is None or valid_until > held.valid_until
        ):
            held.valid_until = valid_until
    return list(by_benefit.values())


def member_entitlements(member: Member, now: dt.datetime | None = None) -> Entitlements:
    """Everything the member holds and may take now, each list in priority order.
    Queries: holdings 1, claimable 1 (+ the segments of segment-only benefits, if any
    are offered), privileges 1 — the same count for 5 holdings or 500."""
    now = now or timezone.now()
    return Entitlements(
        member=member,
        holdings=_holdings(member, now),
        claimable=_claimable(member, now),
        privileges=_privileges(member, now),
    )
