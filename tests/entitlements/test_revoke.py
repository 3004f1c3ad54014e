"""Revoking a grant gives back what it took; what cannot be taken back refuses it whole.
Physical gifts move through shipping and delivery."""

from __future__ import annotations

from decimal import Decimal

import pytest

from entitlements.errors import FulfilmentOutOfOrder, NotEligible, NotRevocable, QuotaExhausted
from entitlements.models import Benefit, Grant, QuotaUse
from entitlements.services import benefit_grant, grant_deliver, grant_revoke, grant_ship
from members.models import Member
from members.services import points_adjust
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.entitlements.factories import add_item, add_source, make_benefit, make_tier, matrix
from tests.members.factories import MemberFactory
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def member():
    return MemberFactory(external_id="M1", tier=make_tier("gold", 3))


def _vouchers(grant):
    return Voucher.objects.filter(pk__in=grant.grant_vouchers.values("voucher_id"))


def test_revoking_a_coupon_voids_its_voucher_and_gives_back_quota_budget_and_points(member):
    points_adjust(member=member, amount=600, reason="seed", actor=ACTOR)
    coffee = make_benefit(
        code="COFFEE", points_price=500, cost=Decimal("3.00"), budget=Decimal("30.00")
    )
    coffee.exchange_limit = 1
    coffee.save()
    grant = benefit_grant(member="M1", benefit="COFFEE", via="points", actor=ACTOR).grant
    assert Member.objects.get(pk=member.pk).points == 100

    grant_revoke(grant=grant, reason="wrong member", actor=ACTOR)

    grant.refresh_from_db()
    assert (grant.status, grant.revoke_reason) == ("revoked", "wrong member")
    assert list(_vouchers(grant).values_list("status", flat=True)) == ["void"]
    assert Member.objects.get(pk=member.pk).points == 600
    assert Benefit.objects.get(pk=coffee.pk).budget_used == Decimal("0.00")
    assert QuotaUse.objects.get(member=member, benefit=coffee).used == 0
    # The quota room is really back: the member may exchange again this month.
    assert (
        benefit_grant(member="M1", benefit="COFFEE", via="points", actor=ACTOR).grant.status
        == "fulfilled"
    )


def test_a_revoke_needs_a_reason(member):
    make_benefit(code="COFFEE")
    grant = benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR).grant
    with pytest.raises(ValidationFailed):
        grant_revoke(grant=grant, reason=" ", actor=ACTOR)


def test_a_delivered_card_secret_cannot_be_revoked(member):
    card = make_benefit(code="VIDEO", kind="card_secret", stock=None)
    add_source(card, 3, kind="card_secret")
    grant = benefit_grant(member="M1", benefit="VIDEO", via="api", actor=ACTOR).grant
    with pytest.raises(NotRevocable) as caught:
        grant_revoke(grant=grant, reason="oops", actor=ACTOR)
    assert "card secret" in str(caught.value.detail)
    assert Grant.objects.get(pk=grant.pk).status == "fulfilled"


def test_a_pack_is_revoked_with_its_children_all_or_nothing(member):
    a = make_benefit(code="A", stock=5)
    vip = make_benefit(code="VIP", kind="privilege", stock=None, valid_days=30)
    pack = make_benefit(code="PACK", kind="pack", stock=None)
    add_item(pack, a, 2)
    add_item(pack, vip)
    grant = benefit_grant(member="M1", benefit="PACK", via="api", actor=ACTOR).grant
    with pytest.raises(NotRevocable):
        grant_revoke(grant=grant.children.first(), reason="x", actor=ACTOR)
    grant_revoke(grant=grant, reason="test pack", actor=ACTOR)
    assert set(Grant.objects.filter(parent=grant).values_list("status", flat=True)) == {"revoked"}
    assert set(Voucher.objects.filter(member=member).values_list("status", flat=True)) == {"void"}


def test_a_gift_is_shipped_then_delivered_and_a_shipped_gift_cannot_be_revoked(member):
    make_benefit(code="MUG", kind="physical", stock=None)
    grant = benefit_grant(member="M1", benefit="MUG", via="api", actor=ACTOR, address="addr").grant
    with pytest.raises(ValidationFailed):
        grant_ship(grant=grant, tracking_number="", actor=ACTOR)
    with pytest.raises(FulfilmentOutOfOrder):
        grant_deliver(grant=grant, actor=ACTOR)
    grant_ship(grant=grant, tracking_number="SF1234567890", actor=ACTOR)
    with pytest.raises(NotRevocable) as caught:
        grant_revoke(grant=grant, reason="x", actor=ACTOR)
    assert "shipped" in str(caught.value.detail)
    delivered = grant_deliver(grant=grant, actor=ACTOR)
    assert (delivered.status, delivered.fulfilment, delivered.tracking_number) == (
        "fulfilled",
        "delivered",
        "SF1234567890",
    )


def test_a_batch_limit_on_the_member_is_not_eligible_not_out_of_stock(member):
    coffee = make_benefit(code="COFFEE", stock=None)
    add_source(coffee, 5, per_member_limit=1)
    benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR)
    with pytest.raises(NotEligible):
        benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR)


def test_a_tier_claim_after_revoke_within_the_period_is_allowed_again(member):
    coffee = make_benefit(code="COFFEE")
    matrix(member.tier, coffee, quota=1, period="month")
    grant = benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR).grant
    with pytest.raises(QuotaExhausted):
        benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
    grant_revoke(grant=grant, reason="retry", actor=ACTOR)
    assert (
        benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR).grant.status
        == "fulfilled"
    )
