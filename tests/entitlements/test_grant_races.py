"""Races on PostgreSQL: quotas, stock with a fallback, budgets (docs: "Concurrency")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from entitlements.errors import BudgetExhausted, QuotaExhausted
from entitlements.models import Benefit, Grant, GrantVoucher, QuotaUse
from entitlements.services import GrantResult, benefit_grant
from riskcontrol.core.actors import Actor
from tests.entitlements.factories import add_fallback, make_benefit, make_tier, matrix
from tests.members.factories import MemberFactory
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

ACTOR = Actor.system("test")


def test_fifty_claims_of_a_monthly_quota_of_one_give_exactly_one():
    gold = make_tier("gold", 3)
    member = MemberFactory(external_id="Q1", tier=gold)
    coffee = make_benefit(stock=60, code="COFFEE")
    matrix(gold, coffee, quota=1, period="month")

    results = race(
        50, lambda i: benefit_grant(member="Q1", benefit="COFFEE", via="tier", actor=ACTOR)
    )

    granted = [r for r in results if isinstance(r, GrantResult)]
    refused = [r for r in results if isinstance(r, QuotaExhausted)]
    assert len(granted) == 1
    assert len(refused) == 49
    assert [r for r in results if not isinstance(r, GrantResult | QuotaExhausted)] == []
    assert all(r.extra["resets_at"] for r in refused)
    assert Grant.objects.filter(member=member, status="fulfilled").count() == 1
    assert (
        Grant.objects.filter(member=member, status="failed", failure="quota_exhausted").count()
        == 49
    )
    assert GrantVoucher.objects.count() == 1
    assert QuotaUse.objects.get(member=member, benefit=coffee).used == 1


def test_sixty_four_grants_on_a_hundred_and_a_fallback_of_a_thousand():
    asked = make_benefit(stock=100, code="TOP")
    fallback = make_benefit(stock=1000, code="EQUIV")
    add_fallback(asked, fallback)
    # First drain 50 so the race crosses the boundary: 50 left, 64 racers.
    for n in range(50):
        member = MemberFactory(external_id=f"PRE{n}")
        benefit_grant(member=member.external_id, benefit="TOP", via="api", actor=ACTOR)
    for n in range(64):
        MemberFactory(external_id=f"R{n}")

    results = race(
        64, lambda i: benefit_grant(member=f"R{i}", benefit="TOP", via="api", actor=ACTOR)
    )

    assert [r for r in results if not isinstance(r, GrantResult)] == []
    direct = [r for r in results if r.grant.substituted_from_id is None]
    substituted = [r for r in results if r.grant.substituted_from_id == asked.pk]
    assert len(direct) == 50
    assert len(substituted) == 14
    assert all(r.grant.benefit_id == fallback.pk for r in substituted)
    vouchers = list(GrantVoucher.objects.values_list("voucher_id", flat=True))
    assert len(vouchers) == 114 == len(set(vouchers))
    codes = [unit.code for r in results for unit in r.taken]
    assert len(codes) == 64 == len(set(codes))


def test_grants_racing_a_budget_for_ten_give_exactly_ten():
    benefit = make_benefit(stock=100, code="BUDGET", cost=Decimal("5.00"), budget=Decimal("50.00"))
    for n in range(30):
        MemberFactory(external_id=f"B{n}")

    results = race(
        30, lambda i: benefit_grant(member=f"B{i}", benefit="BUDGET", via="api", actor=ACTOR)
    )

    assert len([r for r in results if isinstance(r, GrantResult)]) == 10
    assert len([r for r in results if isinstance(r, BudgetExhausted)]) == 20
    benefit = Benefit.objects.get(pk=benefit.pk)
    assert benefit.budget_used == Decimal("50.00")
    assert GrantVoucher.objects.count() == 10


def test_racing_points_exchanges_spend_exactly_what_the_balance_allows():
    from members.models import Member, PointsEntry
    from members.services import InsufficientPoints, points_adjust

    member = MemberFactory(external_id="PX")
    points_adjust(member=member, amount=2500, reason="seed", actor=ACTOR)
    make_benefit(stock=50, code="VIDEO", points_price=500)

    results = race(
        20, lambda i: benefit_grant(member="PX", benefit="VIDEO", via="points", actor=ACTOR)
    )

    assert len([r for r in results if isinstance(r, GrantResult)]) == 5
    assert len([r for r in results if isinstance(r, InsufficientPoints)]) == 15
    assert Member.objects.get(pk=member.pk).points == 0
    assert PointsEntry.objects.filter(member=member, kind="spend").count() == 5
    assert GrantVoucher.objects.count() == 5


def test_racing_pack_grants_are_whole_or_nothing():
    from tests.entitlements.factories import add_item

    coffee = make_benefit(stock=100, code="COFFEE")
    mug = make_benefit(stock=None, code="MUG", kind="service", units_left=5)
    pack = make_benefit(stock=None, code="WELCOME", kind="pack")
    add_item(pack, coffee, 2)
    add_item(pack, mug)
    for n in range(12):
        MemberFactory(external_id=f"P{n}")

    results = race(
        12, lambda i: benefit_grant(member=f"P{i}", benefit="WELCOME", via="api", actor=ACTOR)
    )

    granted = [r for r in results if isinstance(r, GrantResult)]
    assert len(granted) == 5
    assert len([r for r in results if getattr(r, "code", None) == "out_of_stock"]) == 7
    assert Grant.objects.filter(parent__isnull=False).count() == 10
    assert GrantVoucher.objects.count() == 10
    assert Benefit.objects.get(pk=mug.pk).units_left == 0


def test_packs_sharing_budgeted_items_in_opposite_order_do_not_deadlock():
    from tests.entitlements.factories import add_item

    x = make_benefit(stock=100, code="X", cost=Decimal("1.00"), budget=Decimal("1000.00"))
    y = make_benefit(stock=100, code="Y", cost=Decimal("1.00"), budget=Decimal("1000.00"))
    first = make_benefit(stock=None, code="PACK-XY", kind="pack")
    add_item(first, x)
    add_item(first, y)
    second = make_benefit(stock=None, code="PACK-YX", kind="pack")
    add_item(second, y)
    add_item(second, x)
    for n in range(24):
        MemberFactory(external_id=f"D{n}")

    results = race(
        24,
        lambda i: benefit_grant(
            member=f"D{i}", benefit="PACK-XY" if i % 2 else "PACK-YX", via="api", actor=ACTOR
        ),
    )

    assert [r for r in results if not isinstance(r, GrantResult)] == []
    assert Benefit.objects.get(pk=x.pk).budget_used == Decimal("24.00")
    assert Benefit.objects.get(pk=y.pk).budget_used == Decimal("24.00")
