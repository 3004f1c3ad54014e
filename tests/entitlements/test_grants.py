"""benefit_grant: every refusal with its code, fallbacks, packs, points exchanges,
privileges and physical gifts (service level; the API tests repeat the codes over HTTP)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from entitlements.errors import (
    BenefitInactive,
    BudgetExhausted,
    NotEligible,
    OutOfStock,
    QuotaExhausted,
    RegionUnavailable,
)
from entitlements.models import Benefit, Grant, GrantVoucher, QuotaUse
from entitlements.services import benefit_grant, grant_address
from members.models import Member, PointsEntry
from members.services import InsufficientPoints, points_adjust
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.entitlements.factories import (
    add_fallback,
    add_item,
    make_benefit,
    make_tier,
    matrix,
)
from tests.members.factories import MemberFactory
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def gold():
    return make_tier("gold", 3, 5000)


@pytest.fixture
def member(gold):
    return MemberFactory(external_id="M1", tier=gold, region="310000")


def _refused(error_class, **kwargs):
    with pytest.raises(error_class) as caught:
        benefit_grant(actor=ACTOR, **kwargs)
    failed = Grant.objects.filter(status="failed").order_by("-id").first()
    assert failed is not None and failed.failure == error_class.code
    return caught.value


def test_a_coupon_grant_claims_one_voucher_and_returns_its_code(member):
    coupon = make_benefit(stock=3, code="COFFEE")
    result = benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR, channel="app")
    grant = result.grant
    assert (grant.status, grant.via, grant.channel, grant.substituted_from_id) == (
        "fulfilled",
        "api",
        "app",
        None,
    )
    assert grant.benefit == coupon and grant.fulfilled_at is not None
    voucher = Voucher.objects.get(pk=GrantVoucher.objects.get(grant=grant).voucher_id)
    assert (voucher.status, voucher.member_id) == ("claimed", member.pk)
    assert [unit.voucher.pk for unit in result.taken] == [voucher.pk]
    assert result.taken[0].code


def test_not_eligible_when_the_tier_has_no_matrix_row(member):
    make_benefit(code="SILVERONLY")
    error = _refused(NotEligible, member="M1", benefit="SILVERONLY", via="tier")
    assert "SILVERONLY" in str(error.detail)


def test_not_eligible_for_points_without_a_points_price(member):
    make_benefit(code="NOPRICE")
    _refused(NotEligible, member="M1", benefit="NOPRICE", via="points")


def test_quota_exhausted_names_when_it_resets(member, gold, time_machine):
    time_machine.move_to(
        dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC), tick=False
    )  # 23:00 in Shanghai
    coffee = make_benefit(code="COFFEE")
    matrix(gold, coffee, quota=1, period="month")
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    error = _refused(QuotaExhausted, member="M1", benefit="COFFEE", via="tier")
    assert error.extra["resets_at"] == "2027-01-01T00:00:00+08:00"


def test_a_quota_starts_afresh_at_the_period_boundary_in_the_platform_time_zone(
    member, gold, time_machine
):
    coffee = make_benefit(code="COFFEE")
    matrix(gold, coffee, quota=2, period="week")
    # Sunday 2026-12-06 23:59 in Shanghai (15:59 UTC): the week that began Monday 11-30.
    time_machine.move_to(dt.datetime(2026, 12, 6, 15, 59, tzinfo=dt.UTC), tick=False)
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    error = _refused(QuotaExhausted, member="M1", benefit="COFFEE", via="tier")
    assert error.extra["resets_at"] == "2026-12-07T00:00:00+08:00"
    # One minute later it is Monday in Shanghai (still Sunday in UTC): a new week.
    time_machine.move_to(dt.datetime(2026, 12, 6, 16, 0, tzinfo=dt.UTC), tick=False)
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    uses = dict(QuotaUse.objects.filter(member=member).values_list("period_start", "used"))
    assert uses == {dt.date(2026, 11, 30): 2, dt.date(2026, 12, 7): 1}


@pytest.mark.parametrize(
    ("period", "at", "resets"),
    [
        ("day", dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC), "2026-04-02T00:00:00+08:00"),
        ("quarter", dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC), "2026-07-01T00:00:00+08:00"),
        ("year", dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC), "2028-01-01T00:00:00+08:00"),
        ("lifetime", dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC), None),
    ],
)
def test_every_period_resets_at_local_midnight(member, gold, time_machine, period, at, resets):
    # 16:30 UTC is 00:30 the next day in Shanghai, so the period is the local one.
    time_machine.move_to(at, tick=False)
    coffee = make_benefit(code="COFFEE")
    matrix(gold, coffee, quota=1, period=period)
    benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    error = _refused(QuotaExhausted, member="M1", benefit="COFFEE", via="tier")
    assert error.extra["resets_at"] == resets


def test_benefit_inactive_outside_its_window_and_when_switched_off(member):
    make_benefit(code="LATER", active_from=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    _refused(BenefitInactive, member="M1", benefit="LATER", via="api")
    make_benefit(code="OFF", active=False)
    _refused(BenefitInactive, member="M1", benefit="OFF", via="api")


def test_region_unavailable_outside_the_benefit_region(member):
    make_benefit(code="BJ", region="110000")
    _refused(RegionUnavailable, member="M1", benefit="BJ", via="api")
    make_benefit(code="SH", region="310000")
    assert (
        benefit_grant(member="M1", benefit="SH", via="api", actor=ACTOR).grant.status == "fulfilled"
    )


def test_budget_exhausted_after_the_budget_is_spent(member):
    make_benefit(code="B", cost=Decimal("4.00"), budget=Decimal("10.00"))
    benefit_grant(member="M1", benefit="B", via="api", actor=ACTOR)
    benefit_grant(member="M1", benefit="B", via="api", actor=ACTOR)
    _refused(BudgetExhausted, member="M1", benefit="B", via="api")
    assert Benefit.objects.get(code="B").budget_used == Decimal("8.00")


def test_out_of_stock_when_no_source_and_no_fallback_has_stock(member):
    empty = make_benefit(code="EMPTY", stock=0)
    dry = make_benefit(code="DRY", stock=0)
    add_fallback(empty, dry)
    error = _refused(OutOfStock, member="M1", benefit="EMPTY", via="api")
    assert "EMPTY" in str(error.detail)


def test_sources_are_used_in_order_then_the_fallback(member):
    from tests.entitlements.factories import add_source

    coffee = make_benefit(code="COFFEE", stock=1)
    add_source(coffee, 1)
    tea = make_benefit(code="TEA", stock=5)
    add_fallback(coffee, tea)
    batches = [s.batch_id for s in coffee.sources.order_by("position")]
    grants = [
        benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR).grant for _ in range(3)
    ]
    used = [
        Voucher.objects.get(pk=GrantVoucher.objects.get(grant=g).voucher_id).batch_id
        for g in grants
    ]
    assert used[:2] == batches
    assert (grants[2].benefit_id, grants[2].substituted_from_id) == (tea.pk, coffee.pk)


def test_a_pack_whose_third_item_is_out_of_stock_grants_nothing(member):
    a = make_benefit(code="A", stock=5)
    b = make_benefit(code="B", stock=5)
    c = make_benefit(code="C", stock=0)
    pack = make_benefit(code="PACK", kind="pack", stock=None)
    add_item(pack, a, 2)
    add_item(pack, b)
    add_item(pack, c)
    error = _refused(OutOfStock, member="M1", benefit="PACK", via="api")
    assert "C" in str(error.detail)
    assert Grant.objects.exclude(status="failed").count() == 0
    assert Grant.objects.filter(parent__isnull=False).count() == 0
    assert GrantVoucher.objects.count() == 0
    assert Voucher.objects.filter(member=member).count() == 0


def test_a_pack_grants_every_item_as_child_grants(member):
    a = make_benefit(code="A", stock=5)
    vip = make_benefit(code="VIP", kind="privilege", stock=None, valid_days=30)
    pack = make_benefit(code="PACK", kind="pack", stock=None)
    add_item(pack, a, 2)
    add_item(pack, vip)
    result = benefit_grant(member="M1", benefit="PACK", via="api", actor=ACTOR)
    children = list(result.grant.children.order_by("id"))
    assert [(c.benefit.code, c.quantity, c.status) for c in children] == [
        ("A", 2, "fulfilled"),
        ("VIP", 1, "fulfilled"),
    ]
    assert GrantVoucher.objects.filter(grant=children[0]).count() == 2
    assert len(result.taken) == 2
    assert children[1].valid_until is not None


def test_a_points_exchange_spends_the_price_and_grants(member):
    points_adjust(member=member, amount=800, reason="seed", actor=ACTOR)
    make_benefit(code="VIDEO", points_price=500)
    grant = benefit_grant(member="M1", benefit="VIDEO", via="points", actor=ACTOR).grant
    assert grant.points_spent == 500
    assert Member.objects.get(pk=member.pk).points == 300
    spend = PointsEntry.objects.get(member=member, kind="spend")
    assert (spend.amount, spend.ref) == (-500, f"grant:{grant.uid}")


def test_a_points_exchange_refused_for_stock_spends_nothing(member):
    points_adjust(member=member, amount=800, reason="seed", actor=ACTOR)
    make_benefit(code="VIDEO", points_price=500, stock=0)
    _refused(OutOfStock, member="M1", benefit="VIDEO", via="points")
    assert Member.objects.get(pk=member.pk).points == 800
    assert not PointsEntry.objects.filter(kind="spend").exists()


def test_a_points_exchange_without_enough_points_is_insufficient_points(member):
    points_adjust(member=member, amount=100, reason="seed", actor=ACTOR)
    make_benefit(code="VIDEO", points_price=500)
    _refused(InsufficientPoints, member="M1", benefit="VIDEO", via="points")
    assert Voucher.objects.filter(member=member).count() == 0


def test_an_exchange_limit_counts_per_period(member):
    points_adjust(member=member, amount=5000, reason="seed", actor=ACTOR)
    make_benefit(code="VIDEO", points_price=100, exchange_limit=2, exchange_period="month")
    benefit_grant(member="M1", benefit="VIDEO", via="points", actor=ACTOR)
    benefit_grant(member="M1", benefit="VIDEO", via="points", actor=ACTOR)
    _refused(QuotaExhausted, member="M1", benefit="VIDEO", via="points")
    assert Member.objects.get(pk=member.pk).points == 4800


def test_a_privilege_has_no_stock_and_lasts_valid_days(member, time_machine):
    time_machine.move_to(dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC), tick=False)
    make_benefit(code="FREE-SHIP", kind="privilege", stock=None, valid_days=30)
    grant = benefit_grant(member="M1", benefit="FREE-SHIP", via="api", actor=ACTOR).grant
    assert grant.status == "fulfilled"
    assert grant.valid_until == dt.datetime(2026, 12, 31, 2, 0, tzinfo=dt.UTC)


def test_a_physical_gift_needs_an_address_and_starts_pending(member):
    make_benefit(code="MUG", kind="physical", stock=None, units_left=1)
    with pytest.raises(ValidationFailed) as caught:
        benefit_grant(member="M1", benefit="MUG", via="api", actor=ACTOR)
    assert "address" in caught.value.errors
    grant = benefit_grant(
        member="M1", benefit="MUG", via="api", actor=ACTOR, address="上海市黄浦区南京东路1号"
    ).grant
    assert (grant.status, grant.fulfilment) == ("pending", "waiting")
    assert b"\xe5\x8d\x97\xe4\xba\xac" not in bytes(grant.address_sealed)
    assert grant_address(grant) == "上海市黄浦区南京东路1号"
    _refused(OutOfStock, member="M1", benefit="MUG", via="api", address="x")


def test_a_dedupe_key_makes_the_second_call_a_no_op(member):
    make_benefit(code="COFFEE", stock=5)
    first = benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR, dedupe_key="k1")
    again = benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR, dedupe_key="k1")
    assert (again.created, again.grant.pk) == (False, first.grant.pk)
    assert GrantVoucher.objects.count() == 1


def test_an_unknown_route_is_a_field_error(member):
    make_benefit(code="COFFEE")
    with pytest.raises(ValidationFailed) as caught:
        benefit_grant(member="M1", benefit="COFFEE", via="lottery", actor=ACTOR)
    assert "via" in caught.value.errors
