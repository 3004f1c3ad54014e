"""GET /api/v1/members/{external_id}/entitlements: holdings, claimable benefits with
their quota, privileges, in priority order, in the same number of queries for 5 or 50
holdings; and the benefit catalog (GET /api/v1/benefits, /benefits/{code})."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from entitlements.models import Benefit
from entitlements.renderers import entitlements_data
from entitlements.selectors import entitlements_member, member_entitlements
from entitlements.serializers import EntitlementsOutput
from entitlements.services import benefit_grant
from members.models import Member, Segment
from riskcontrol.core.actors import Actor
from tests.entitlements.factories import (
    add_fallback,
    add_item,
    add_source,
    make_benefit,
    make_tier,
    matrix,
)
from tests.members.factories import MemberFactory
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/{}/entitlements"
ACTOR = Actor.system("test")
MARCH = dt.datetime(2026, 3, 20, 4, tzinfo=dt.UTC)  # 12:00 in Shanghai


@pytest.fixture
def api(partner_api):
    return partner_api(scopes=["members:read"])


def _coupon(code: str, stock: int = 60, **fields) -> Benefit:
    benefit = make_benefit(code=code, stock=None, **fields)
    add_source(benefit, stock, per_member_limit=None)
    return benefit


def _hold(member: Member, n: int, batch=None) -> None:
    """`n` vouchers claimed by the member straight from a batch (no grant)."""
    batch = batch or make_batch(n, per_member_limit=None)
    for _ in range(n):
        voucher_claim(batch_code=batch.code, member_external_id=member.external_id, actor=ACTOR)


def test_everything_the_member_holds_and_may_take_in_priority_order(api):
    gold = make_tier("gold", 3)
    member = MemberFactory(external_id="M1", tier=gold, region="310000")
    tea = _coupon("TEA", priority=20, name="茶")
    coffee = _coupon("COFFEE", priority=10, name="咖啡", description="每月一杯")
    _coupon("CARD", priority=30, points_price=500, exchange_limit=2, exchange_period="year")
    matrix(gold, coffee, quota=1, period="month")
    matrix(gold, tea, quota=3, period="week")
    matrix(gold, make_benefit(code="WELCOME", stock=3), mode="on_upgrade")  # not claimable
    _coupon("BJONLY", priority=1, points_price=10, region="110000")  # another region
    _coupon("OFF", priority=1, points_price=10, active=False)
    make_benefit(code="LOUNGE", kind="privilege", stock=None, valid_days=30, priority=5)
    with time_machine.travel(MARCH, tick=False):
        benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
        benefit_grant(member="M1", benefit="LOUNGE", via="api", actor=ACTOR)
        _hold(member, 1)

        response = api.get(URL.format("M1"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["member"], body["tier"], body["points"]) == ("M1", "gold", 0)
    # Holdings: the granted coffee first (benefit priority), then the plain voucher.
    assert [h["benefit"] for h in body["holdings"]] == ["COFFEE", None]
    coffee_holding = body["holdings"][0]
    assert coffee_holding["usable_now"] is True
    assert coffee_holding["not_usable_because"] is None
    assert coffee_holding["status"] == "claimed"
    assert coffee_holding["rules"]["value_type"] == "cash"
    assert coffee_holding["rules"]["face_value"] == "10.00"
    assert "code" not in coffee_holding
    # Claimable: tier rows and points exchanges, by priority.
    assert [(c["benefit"]["code"], c["via"]) for c in body["claimable"]] == [
        ("COFFEE", "tier"),
        ("TEA", "tier"),
        ("CARD", "points"),
    ]
    assert body["claimable"][0]["quota"] == {
        "period": "month",
        "limit": 1,
        "used": 1,
        "resets_at": "2026-04-01T00:00:00+08:00",
    }
    assert body["claimable"][0]["benefit"]["description"] == "每月一杯"
    assert body["claimable"][1]["quota"] == {
        "period": "week",
        "limit": 3,
        "used": 0,
        "resets_at": "2026-03-23T00:00:00+08:00",
    }
    assert body["claimable"][2]["points_price"] == 500
    assert body["claimable"][2]["quota"]["resets_at"] == "2027-01-01T00:00:00+08:00"
    # Privileges held, with their end.
    assert body["privileges"] == [
        {
            "benefit": {
                "code": "LOUNGE",
                "name": "LOUNGE",
                "kind": "privilege",
                "face_value": "10.00",
                "currency": "CNY",
                "description": "",
                "image_url": "",
            },
            "valid_until": "2026-04-19T12:00:00+08:00",
        }
    ]


def test_a_voucher_not_yet_valid_is_held_but_not_usable_now(api):
    member = MemberFactory(external_id="M1")
    batch = make_batch(
        1,
        per_member_limit=None,
        valid_days=None,
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        valid_until=dt.datetime(2026, 12, 31, tzinfo=dt.UTC),
    )
    with time_machine.travel(dt.datetime(2025, 12, 1, tzinfo=dt.UTC), tick=False):
        Voucher.objects.filter(batch=batch).update(
            status="claimed", member=member, claimed_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
        )
        holding = api.get(URL.format("M1")).json()["holdings"][0]

    assert (holding["usable_now"], holding["not_usable_because"]) == (False, "not_yet_valid")
    assert holding["rules"]["valid_until"] == "2026-12-31T08:00:00+08:00"


def test_used_expired_and_voided_vouchers_are_not_held(api):
    member = MemberFactory(external_id="M1")
    batch = make_batch(3, per_member_limit=None)
    _hold(member, 3, batch)
    serials = list(Voucher.objects.filter(batch=batch).order_by("id").values_list("pk", flat=True))
    Voucher.objects.filter(pk=serials[0]).update(status="redeemed")
    Voucher.objects.filter(pk=serials[1]).update(status="void")

    holdings = api.get(URL.format("M1")).json()["holdings"]

    assert len(holdings) == 1


def test_a_segment_only_benefit_is_offered_only_inside_the_segment(api):
    MemberFactory(external_id="M1", region="310000")
    MemberFactory(external_id="M2", region="110000")
    shanghai = Segment.objects.create(code="sh", name="沪", conditions={"regions": ["310000"]})
    _coupon("SHCARD", points_price=10, segment=shanghai)

    inside = api.get(URL.format("M1")).json()["claimable"]
    outside = api.get(URL.format("M2")).json()["claimable"]

    assert [c["benefit"]["code"] for c in inside] == ["SHCARD"]
    assert outside == []


def test_a_member_without_tier_sees_points_exchanges_only(api):
    MemberFactory(external_id="M1")
    gold = make_tier("gold", 3)
    matrix(gold, _coupon("COFFEE"))
    _coupon("CARD", points_price=100)

    body = api.get(URL.format("M1")).json()

    assert body["tier"] is None
    assert [(c["benefit"]["code"], c["via"], c["quota"]) for c in body["claimable"]] == [
        ("CARD", "points", None)
    ]


def test_unknown_member_404_and_scope_403(api, partner_api):
    assert api.get(URL.format("NOBODY")).json()["code"] == "not_found"
    MemberFactory(external_id="M1")
    no_scope = partner_api(scopes=["benefits:read"])
    response = no_scope.get(URL.format("M1"))
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def _queries(api, member: Member, holdings: int) -> int:
    """The read's queries, checking that the member holds `holdings` vouchers."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(URL.format(member.external_id))
    assert len(response.json()["holdings"]) == holdings
    return len(captured.captured_queries)


def test_the_same_handful_of_queries_for_5_and_50_holdings(api, django_assert_max_num_queries):
    gold = make_tier("gold", 3)
    member = MemberFactory(external_id="M1", tier=gold)
    for n in range(10):
        matrix(gold, _coupon(f"TIER{n}", stock=3), quota=2)
    for n in range(5):
        benefit_grant(member="M1", benefit=f"TIER{n}", via="tier", actor=ACTOR)
    for n in range(10):
        _coupon(f"PTS{n}", stock=3, points_price=100 + n, exchange_limit=1)
    for n in range(3):
        make_benefit(code=f"PRIV{n}", kind="privilege", stock=None, valid_days=30)
        benefit_grant(member="M1", benefit=f"PRIV{n}", via="api", actor=ACTOR)

    five = _queries(api, member, 5)  # the five tier grants
    _hold(member, 45)
    fifty = _queries(api, member, 50)
    with django_assert_max_num_queries(five):
        api.get(URL.format("M1"))

    assert five == fifty
    assert five <= 5  # API key, member, holdings, claimable with quotas, privileges


# --- the catalog -----------------------------------------------------------------------


@pytest.fixture
def reader(partner_api):
    return partner_api(scopes=["benefits:read"])


def test_the_catalog_lists_benefits_in_priority_order_with_filters(reader):
    gold = make_tier("gold", 3)
    coffee = make_benefit(code="COFFEE", stock=3, priority=10, points_price=500)
    tea = make_benefit(code="TEA", stock=3, priority=20)
    add_fallback(coffee, tea)
    pack = make_benefit(code="WELCOME", kind="pack", stock=None, priority=5)
    add_item(pack, coffee, quantity=2)
    make_benefit(code="LOUNGE", kind="privilege", stock=None, valid_days=30, priority=30)
    matrix(gold, coffee)
    matrix(gold, pack, mode="on_upgrade")

    everything = reader.get("/api/v1/benefits").json()
    packs = reader.get("/api/v1/benefits?kind=pack").json()
    golds = reader.get("/api/v1/benefits?tier=gold").json()

    assert [b["code"] for b in everything["results"]] == ["WELCOME", "COFFEE", "TEA", "LOUNGE"]
    assert everything["count"] == 4
    listed = {b["code"]: b for b in everything["results"]}
    assert listed["WELCOME"]["items"] == [{"benefit": "COFFEE", "quantity": 2}]
    assert listed["COFFEE"]["fallbacks"] == ["TEA"]
    assert listed["COFFEE"]["points_price"] == 500
    assert listed["COFFEE"]["active"] is True
    assert listed["LOUNGE"]["valid_days"] == 30
    assert "stock" not in listed["COFFEE"]
    assert "budget" not in listed["COFFEE"] and "cost" not in listed["COFFEE"]
    assert [b["code"] for b in packs["results"]] == ["WELCOME"]
    assert [b["code"] for b in golds["results"]] == ["WELCOME", "COFFEE"]


def test_catalog_filters_refuse_an_unknown_kind_or_tier(reader):
    kind = reader.get("/api/v1/benefits?kind=voucher")
    tier = reader.get("/api/v1/benefits?tier=platinum")

    assert (kind.status_code, tier.status_code) == (400, 400)
    assert "kind" in kind.json()["errors"]
    assert "tier" in tier.json()["errors"]


def test_a_benefit_with_its_stock_across_sources(reader):
    coffee = make_benefit(code="COFFEE", stock=3)
    add_source(coffee, 4)
    make_benefit(code="MUG", kind="physical", stock=None, units_left=7)
    make_benefit(code="LOUNGE", kind="privilege", stock=None)
    pack = make_benefit(code="WELCOME", kind="pack", stock=None)
    add_item(pack, coffee, quantity=2)
    add_item(pack, Benefit.objects.get(code="MUG"))
    Voucher.objects.filter(batch=coffee.sources.first().batch).filter(
        pk__in=Voucher.objects.filter(batch=coffee.sources.first().batch).values("pk")[:1]
    ).update(status="void")

    def stock(code):
        response = reader.get(f"/api/v1/benefits/{code}")
        assert response.status_code == 200
        return response.json()["stock"]

    assert stock("COFFEE") == 6
    assert stock("MUG") == 7
    assert stock("LOUNGE") is None
    assert stock("WELCOME") == 3
    assert reader.get("/api/v1/benefits/NOPE").json()["code"] == "not_found"


def test_catalog_scope(partner_api):
    make_benefit(code="COFFEE", stock=1)
    granter = partner_api(scopes=["benefits:grant"])

    assert granter.get("/api/v1/benefits").status_code == 403
    assert granter.get("/api/v1/benefits/COFFEE").json()["code"] == "permission_denied"


def test_an_inactive_benefit_is_listed_as_inactive(reader):
    make_benefit(code="OLD", stock=1, active=True, budget=Decimal("1.00"))
    Benefit.objects.filter(code="OLD").update(active=False)

    assert reader.get("/api/v1/benefits/OLD").json()["active"] is False


def test_the_page_is_rendered_exactly_as_its_documented_serializer_says(api):
    gold = make_tier("gold", 3)
    member = MemberFactory(external_id="M1", tier=gold, points=700)
    matrix(gold, _coupon("COFFEE", priority=1), quota=2)
    _coupon("CARD", points_price=500, exchange_limit=1)
    _coupon("FREE", points_price=10)
    make_benefit(code="LOUNGE", kind="privilege", stock=None, valid_days=30)
    batch = make_batch(
        2,
        per_member_limit=None,
        value_type="percent",
        percent_off=Decimal("15.00"),
        max_discount=Decimal("30.00"),
        min_order_amount=Decimal("100.00"),
    )
    with time_machine.travel(MARCH, tick=False):
        benefit_grant(member="M1", benefit="COFFEE", via="tier", actor=ACTOR)
        benefit_grant(member="M1", benefit="LOUNGE", via="api", actor=ACTOR)
        _hold(member, 2, batch)
        frozen = Voucher.objects.filter(batch=batch).order_by("id")[0]
        Voucher.objects.filter(pk=frozen.pk).update(status="frozen", frozen_from="claimed")
        entitlements = member_entitlements(Member.objects.get(pk=member.pk))

        fast = entitlements_data(entitlements)
        documented = EntitlementsOutput(entitlements).data

    assert json.loads(json.dumps(fast)) == json.loads(json.dumps(documented))
    assert len(fast["holdings"]) == 3
    assert [h["usable_now"] for h in fast["holdings"]].count(False) == 1
    assert len(fast["claimable"]) == 3
    assert len(fast["privileges"]) == 1


def test_the_member_of_the_page_carries_what_the_page_reads():
    gold = make_tier("gold", 3)
    MemberFactory(external_id="M1", tier=gold, points=42, region="310000")
    MemberFactory(external_id="M2")

    member = entitlements_member(external_id="M1")
    plain = entitlements_member(external_id="M2")

    orm = Member.objects.select_related("tier").get(external_id="M1")
    assert (member.pk, member.external_id, member.points, member.region, member.tier_id) == (
        orm.pk,
        "M1",
        42,
        "310000",
        gold.pk,
    )
    assert member.tier.code == "gold"
    assert member.name == orm.name  # deferred: read when asked for
    assert plain.tier_id is None
