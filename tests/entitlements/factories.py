"""Benefits for tests: a coupon benefit on a generated batch, tiers, matrix rows."""

from __future__ import annotations

from decimal import Decimal

from entitlements.models import Benefit, BenefitFallback, BenefitSource, PackItem, TierBenefit
from members.models import Member, Tier
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.services import voucher_claim

_counter = iter(range(1, 10**9))
_ACTOR = Actor.system("test")


def make_benefit(*, stock: int | None = 10, kind: str = "coupon", **fields) -> Benefit:
    """A benefit; with `stock`, one source batch of that many vouchers."""
    fields.setdefault("code", f"BEN{next(_counter):04d}")
    fields.setdefault("name", fields["code"])
    fields.setdefault("face_value", Decimal("10.00"))
    benefit = Benefit.objects.create(kind=kind, **fields)
    if stock is not None:
        add_source(benefit, stock)
    return benefit


def add_source(benefit: Benefit, stock: int, **batch_fields) -> BenefitSource:
    batch_fields.setdefault("per_member_limit", None)  # the benefit's quota governs
    batch = make_batch(max(stock, 1), **batch_fields)
    if stock == 0:  # a batch cannot be generated empty: generate one and claim it away
        drain, _created = Member.objects.get_or_create(external_id="DRAIN")
        voucher_claim(batch_code=batch.code, member_external_id=drain.external_id, actor=_ACTOR)
    position = benefit.sources.count()
    return BenefitSource.objects.create(benefit=benefit, batch=batch, position=position)


def add_fallback(benefit: Benefit, fallback: Benefit) -> BenefitFallback:
    return BenefitFallback.objects.create(
        benefit=benefit, fallback=fallback, position=benefit.fallback_links.count()
    )


def add_item(pack: Benefit, item: Benefit, quantity: int = 1) -> PackItem:
    return PackItem.objects.create(
        pack=pack, item=item, quantity=quantity, position=pack.items.count()
    )


def make_tier(code: str, rank: int, threshold: int = 0) -> Tier:
    tier, _created = Tier.objects.get_or_create(
        code=code, defaults={"name": code.title(), "rank": rank, "threshold": threshold}
    )
    return tier


def matrix(tier: Tier, benefit: Benefit, *, quota=1, period="month", mode="claimable"):
    return TierBenefit.objects.create(
        tier=tier, benefit=benefit, quota=quota, period=period, mode=mode
    )
