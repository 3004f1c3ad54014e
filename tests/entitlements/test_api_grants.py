"""POST /api/v1/members/{external_id}/grants and GET /api/v1/grants/{id}: every refusal
of API.md's list with its exact code and status, 201 vs 202, field errors, unknown
member or benefit, scopes, codes shown once, no secret in any error body."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from entitlements.models import Benefit, Grant, GrantVoucher, QuotaUse
from entitlements.renderers import grant_created_context, grant_created_data
from entitlements.selectors import grant_children
from entitlements.serializers import GrantCreatedOutput
from entitlements.services import benefit_grant
from members.models import Member, Segment
from members.services import points_adjust
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
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/{}/grants"
ACTOR = Actor.system("test")
SHANGHAI_MIDNIGHT = "2026-04-01T00:00:00+08:00"


@pytest.fixture
def api(partner_api):
    return partner_api(scopes=["benefits:grant"])


def _grant(api, body, member="M1", **headers):
    return api.post(URL.format(member), body, format="json", **headers)


def _unlimited(code: str, stock: int = 3, **fields) -> Benefit:
    """A coupon benefit whose batch lets one member hold any number of its vouchers."""
    benefit = make_benefit(code=code, stock=None, **fields)
    add_source(benefit, stock, per_member_limit=None)
    return benefit


def _empty(code: str, **fields) -> Benefit:
    """A coupon benefit whose only batch has no voucher left."""
    benefit = make_benefit(code=code, stock=1, **fields)
    Voucher.objects.filter(batch=benefit.sources.get().batch).update(status="void")
    return benefit


def _refused(response, code):
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == 409
    return body


# --- success: 201 and 202 --------------------------------------------------------------


def test_a_coupon_is_granted_with_201_and_its_code_once(api):
    MemberFactory(external_id="M1")
    make_benefit(code="COFFEE", stock=3, name="咖啡券")

    response = _grant(api, {"benefit": "COFFEE", "via": "api", "channel": "app"})

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    grant = Grant.objects.get()
    voucher = Voucher.objects.get(member__external_id="M1")
    assert body["id"] == str(grant.uid)
    assert (body["benefit"], body["member"], body["via"], body["status"]) == (
        "COFFEE",
        "M1",
        "api",
        "fulfilled",
    )
    assert body["substituted_from"] is None
    assert body["failure"] is None
    assert body["children"] == []
    assert body["topup"] is None
    assert len(body["vouchers"]) == 1
    assert body["vouchers"][0]["voucher"]["serial"] == voucher.serial
    code = body["vouchers"][0]["code"]
    assert code
    assert grant.partner_client_id == api.partner_client.pk
    assert grant.channel == "app"
    assert GrantVoucher.objects.get().voucher_id == voucher.pk

    # GET shows the grant without its code.
    detail = api.get(f"/api/v1/grants/{grant.uid}")
    assert detail.status_code == 200
    assert detail.json()["vouchers"] == [{"voucher": body["vouchers"][0]["voucher"]}]
    assert code not in detail.content.decode()
    assert {k: v for k, v in detail.json().items() if k != "vouchers"} == {
        k: v for k, v in body.items() if k != "vouchers"
    }


def test_a_physical_gift_answers_202_pending_and_never_echoes_the_address(api):
    MemberFactory(external_id="M1")
    make_benefit(code="MUG", kind="physical", stock=None, units_left=5)
    address = "上海市黄浦区中山东一路 1 号 801 室"

    response = _grant(api, {"benefit": "MUG", "via": "api", "address": address})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["fulfilment"] == {
        "status": "waiting",
        "tracking_number": "",
        "shipped_at": None,
        "delivered_at": None,
    }
    assert body["vouchers"] == []
    assert "中山东一路" not in response.content.decode()
    grant = Grant.objects.get()
    assert "中山东一路" not in api.get(f"/api/v1/grants/{grant.uid}").content.decode()
    assert grant.address_sealed is not None


def test_a_direct_topup_answers_202_with_the_account_masked(api):
    MemberFactory(external_id="M1")
    # Supplier products come with the suppliers issue; a batch source stands in here.
    make_benefit(code="VIDEO", kind="direct_topup", stock=3)

    response = _grant(api, {"benefit": "VIDEO", "via": "api", "account": "13812345678"})

    assert response.status_code == 202, response.content
    assert response.json()["topup"] == {
        "status": "pending",
        "supplier": None,
        "account": "138****5678",
    }
    assert "13812345678" not in response.content.decode()


def test_a_privilege_is_fulfilled_with_its_end(api):
    MemberFactory(external_id="M1")
    make_benefit(code="FREESHIP", kind="privilege", stock=None, valid_days=30)

    with time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False):
        response = _grant(api, {"benefit": "FREESHIP", "via": "api"})

    assert response.status_code == 201, response.content
    assert response.json()["valid_until"] == "2026-04-09T20:00:00+08:00"


def test_a_pack_is_granted_whole_with_children_and_their_codes(api):
    MemberFactory(external_id="M1")
    coffee = _unlimited("COFFEE", 5)
    ship = make_benefit(code="FREESHIP", kind="privilege", stock=None, valid_days=30)
    pack = make_benefit(code="WELCOME", kind="pack", stock=None)
    add_item(pack, coffee, quantity=2)
    add_item(pack, ship)

    response = _grant(api, {"benefit": "WELCOME", "via": "api"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["benefit"] == "WELCOME"
    assert [child["benefit"] for child in body["children"]] == ["COFFEE", "FREESHIP"]
    coffee_child = body["children"][0]
    assert len(coffee_child["vouchers"]) == 2
    assert all(unit["code"] for unit in coffee_child["vouchers"])
    assert body["children"][1]["vouchers"] == []
    # read back: the same children, no code
    again = api.get(f"/api/v1/grants/{body['id']}").json()
    assert [child["benefit"] for child in again["children"]] == ["COFFEE", "FREESHIP"]
    assert all("code" not in unit for unit in again["children"][0]["vouchers"])


def test_a_fallback_is_granted_and_names_the_benefit_asked_for(api):
    MemberFactory(external_id="M1")
    asked = _empty("TOP")
    add_fallback(asked, make_benefit(code="EQUIV", stock=2))

    response = _grant(api, {"benefit": "TOP", "via": "api"})

    assert response.status_code == 201, response.content
    assert (response.json()["benefit"], response.json()["substituted_from"]) == ("EQUIV", "TOP")


def test_a_points_exchange_spends_the_price(api):
    member = MemberFactory(external_id="M1")
    points_adjust(member=member, amount=800, reason="seed", actor=ACTOR)
    make_benefit(code="CARD", stock=2, points_price=500)

    response = _grant(api, {"benefit": "CARD", "via": "points"})

    assert response.status_code == 201, response.content
    assert response.json()["points_spent"] == 500
    assert Member.objects.get(pk=member.pk).points == 300


def test_context_is_kept_with_the_grant(api):
    MemberFactory(external_id="M1")
    make_benefit(code="COFFEE", stock=1)

    _grant(
        api,
        {
            "benefit": "COFFEE",
            "via": "api",
            "context": {"ip": "203.0.113.7", "device_id": "d-1"},
        },
    )

    assert Grant.objects.get().context["end_user"] == {"ip": "203.0.113.7", "device_id": "d-1"}


def test_an_idempotency_key_replays_the_first_answer_and_grants_once(api):
    MemberFactory(external_id="M1")
    _unlimited("COFFEE", 3)

    first = _grant(api, {"benefit": "COFFEE", "via": "api"}, HTTP_IDEMPOTENCY_KEY="k-1")
    again = _grant(api, {"benefit": "COFFEE", "via": "api"}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Grant.objects.count() == 1


def test_a_refusal_under_an_idempotency_key_keeps_its_failed_grant_and_replays(api):
    """The key, the grant's refusal record and the stored answer are one transaction:
    the refused pack item's voucher and the points stay untouched, the failed grant
    stays, and a retry replays the refusal instead of trying again."""
    member = MemberFactory(external_id="M1")
    points_adjust(member=member, amount=500, reason="seed", actor=ACTOR)
    coffee = _unlimited("COFFEE", 3)
    pack = make_benefit(code="WELCOME", kind="pack", stock=None, points_price=100)
    add_item(pack, coffee)
    add_item(pack, _empty("TOP"))
    body = {"benefit": "WELCOME", "via": "points"}

    first = _grant(api, body, HTTP_IDEMPOTENCY_KEY="k-2")
    again = _grant(api, body, HTTP_IDEMPOTENCY_KEY="k-2")

    _refused(first, "out_of_stock")
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Grant.objects.get().failure == "out_of_stock"
    assert Member.objects.get(pk=member.pk).points == 500
    assert not Voucher.objects.filter(member=member).exists()


# --- refusals: 409 with their stable codes ----------------------------------------------


def test_not_eligible_when_the_benefit_is_not_in_the_members_tier(api):
    gold, silver = make_tier("gold", 3), make_tier("silver", 2)
    MemberFactory(external_id="M1", tier=silver)
    matrix(gold, make_benefit(code="COFFEE", stock=3))

    body = _refused(_grant(api, {"benefit": "COFFEE", "via": "tier"}), "not_eligible")

    assert body["title"] == "The member does not qualify for this benefit."
    failed = Grant.objects.get()
    assert (failed.status, failed.failure) == ("failed", "not_eligible")
    assert Voucher.objects.filter(member__isnull=False).count() == 0


def test_not_eligible_for_points_without_a_price_and_outside_the_segment(api):
    MemberFactory(external_id="M1", region="110000")
    make_benefit(code="COFFEE", stock=3)
    shanghai = Segment.objects.create(
        code="sh", name="Shanghai", conditions={"regions": ["310000"]}
    )
    make_benefit(code="SHONLY", stock=3, segment=shanghai)

    _refused(_grant(api, {"benefit": "COFFEE", "via": "points"}), "not_eligible")
    _refused(_grant(api, {"benefit": "SHONLY", "via": "api"}), "not_eligible")


def test_quota_exhausted_carries_resets_at_the_next_local_period_start(api):
    gold = make_tier("gold", 3)
    MemberFactory(external_id="M1", tier=gold)
    matrix(gold, _unlimited("COFFEE", 3), quota=1)

    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        first = _grant(api, {"benefit": "COFFEE", "via": "tier"})
        second = _grant(api, {"benefit": "COFFEE", "via": "tier"})

    assert first.status_code == 201
    body = _refused(second, "quota_exhausted")
    assert body["resets_at"] == SHANGHAI_MIDNIGHT
    assert QuotaUse.objects.get().used == 1


def test_quota_exhausted_for_the_points_exchange_limit(api):
    member = MemberFactory(external_id="M1")
    _unlimited("CARD", 3, points_price=100, exchange_limit=1, exchange_period="month")

    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        points_adjust(member=member, amount=1000, reason="seed", actor=ACTOR)
        assert _grant(api, {"benefit": "CARD", "via": "points"}).status_code == 201
        body = _refused(_grant(api, {"benefit": "CARD", "via": "points"}), "quota_exhausted")

    assert body["resets_at"] == SHANGHAI_MIDNIGHT
    assert Member.objects.get(pk=member.pk).points == 900


def test_insufficient_points_spends_nothing(api):
    member = MemberFactory(external_id="M1")
    points_adjust(member=member, amount=99, reason="seed", actor=ACTOR)
    make_benefit(code="CARD", stock=3, points_price=100)

    _refused(_grant(api, {"benefit": "CARD", "via": "points"}), "insufficient_points")

    assert Member.objects.get(pk=member.pk).points == 99
    assert Grant.objects.get().failure == "insufficient_points"


def test_out_of_stock_when_no_source_and_no_fallback_has_stock(api):
    MemberFactory(external_id="M1")
    asked = _empty("TOP")
    add_fallback(asked, _empty("EQUIV"))

    _refused(_grant(api, {"benefit": "TOP", "via": "api"}), "out_of_stock")


def test_budget_exhausted(api):
    MemberFactory(external_id="M1")
    _unlimited(
        "COFFEE",
        3,
        cost=Decimal("5.00"),
        budget=Decimal("5.00"),
    )

    assert _grant(api, {"benefit": "COFFEE", "via": "api"}).status_code == 201
    _refused(_grant(api, {"benefit": "COFFEE", "via": "api"}), "budget_exhausted")

    assert Benefit.objects.get(code="COFFEE").budget_used == Decimal("5.00")


def test_benefit_inactive_when_switched_off_or_outside_its_window(api):
    MemberFactory(external_id="M1")
    make_benefit(code="OFF", stock=3, active=False)
    make_benefit(code="LATER", stock=3, active_from=timezone.now() + dt.timedelta(days=1))

    _refused(_grant(api, {"benefit": "OFF", "via": "api"}), "benefit_inactive")
    _refused(_grant(api, {"benefit": "LATER", "via": "api"}), "benefit_inactive")


def test_region_unavailable(api):
    MemberFactory(external_id="M1", region="110000")
    make_benefit(code="SHCOFFEE", stock=3, region="310000")

    _refused(_grant(api, {"benefit": "SHCOFFEE", "via": "api"}), "region_unavailable")


def test_a_pack_with_an_empty_item_is_refused_whole(api):
    MemberFactory(external_id="M1")
    pack = make_benefit(code="WELCOME", kind="pack", stock=None)
    add_item(pack, make_benefit(code="A", stock=3))
    add_item(pack, _empty("B"))

    _refused(_grant(api, {"benefit": "WELCOME", "via": "api"}), "out_of_stock")

    assert Voucher.objects.filter(member__isnull=False).count() == 0
    assert Grant.objects.filter(parent__isnull=False).count() == 0


# --- 400, 404, 403 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"via": "api"}, "benefit"),
        ({"benefit": "COFFEE"}, "via"),
        ({"benefit": "COFFEE", "via": "operator"}, "via"),
        ({"benefit": "COFFEE", "via": "api", "channel": "x" * 33}, "channel"),
        ({"benefit": "COFFEE", "via": "api", "context": {"ip": "not-an-ip"}}, "context"),
        ({"benefit": "COFFEE", "via": "api", "account": "x" * 65}, "account"),
    ],
)
def test_field_errors_answer_400(api, body, field):
    MemberFactory(external_id="M1")
    make_benefit(code="COFFEE", stock=3)

    response = _grant(api, body)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert Grant.objects.count() == 0


def test_a_gift_without_an_address_and_a_topup_without_an_account_answer_400(api):
    MemberFactory(external_id="M1")
    make_benefit(code="MUG", kind="physical", stock=None)
    make_benefit(code="VIDEO", kind="direct_topup", stock=None)

    gift = _grant(api, {"benefit": "MUG", "via": "api"})
    topup = _grant(api, {"benefit": "VIDEO", "via": "api"})

    assert (gift.status_code, topup.status_code) == (400, 400)
    assert "address" in gift.json()["errors"]
    assert "account" in topup.json()["errors"]


def test_unknown_member_and_unknown_benefit_answer_404(api):
    MemberFactory(external_id="M1")
    make_benefit(code="COFFEE", stock=3)

    member = _grant(api, {"benefit": "COFFEE", "via": "api"}, member="NOBODY")
    benefit = _grant(api, {"benefit": "NOPE", "via": "api"})

    assert (member.status_code, benefit.status_code) == (404, 404)
    assert member.json()["code"] == benefit.json()["code"] == "not_found"
    assert Grant.objects.count() == 0


def test_scopes(partner_api):
    MemberFactory(external_id="M1")
    grant = Grant.objects.create(
        member=Member.objects.get(),
        benefit=make_benefit(code="COFFEE", stock=1),
        via="api",
        status="fulfilled",
    )
    reader = partner_api(scopes=["benefits:read", "members:read"])

    post = _grant(reader, {"benefit": "COFFEE", "via": "api"})
    get = reader.get(f"/api/v1/grants/{grant.uid}")

    assert (post.status_code, get.status_code) == (403, 403)
    assert post.json()["code"] == get.json()["code"] == "permission_denied"
    assert Grant.objects.count() == 1


def test_a_client_sees_only_its_own_grants(api, partner_api):
    MemberFactory(external_id="M1")
    _unlimited("COFFEE", 3)
    other = partner_api(scopes=["benefits:grant"])
    mine = _grant(api, {"benefit": "COFFEE", "via": "api"}).json()["id"]
    operator = Grant.objects.create(
        member=Member.objects.get(),
        benefit=Benefit.objects.get(code="COFFEE"),
        via="operator",
        status="fulfilled",
    )

    assert api.get(f"/api/v1/grants/{mine}").status_code == 200
    assert other.get(f"/api/v1/grants/{mine}").status_code == 404
    assert api.get(f"/api/v1/grants/{operator.uid}").status_code == 404
    assert api.get(f"/api/v1/grants/{uuid.uuid4()}").json()["code"] == "not_found"
    assert api.get("/api/v1/grants/not-a-uuid").status_code == 404


def test_no_code_account_or_address_in_any_error_body(api):
    member = MemberFactory(external_id="M1")
    gold = make_tier("gold", 3)
    Member.objects.filter(pk=member.pk).update(tier=gold)
    matrix(gold, _unlimited("COFFEE", 3), quota=1)
    first = _grant(api, {"benefit": "COFFEE", "via": "tier"})
    code = first.json()["vouchers"][0]["code"]
    make_benefit(code="VIDEO", kind="direct_topup", stock=None, units_left=0)
    make_benefit(code="MUG", kind="physical", stock=None, units_left=0)

    errors = [
        _grant(api, {"benefit": "COFFEE", "via": "tier"}),
        _grant(api, {"benefit": "VIDEO", "via": "api", "account": "13812345678"}),
        _grant(api, {"benefit": "MUG", "via": "api", "address": "上海市中山东一路 1 号"}),
        _grant(api, {"benefit": "VIDEO", "via": "api", "account": "1" * 65}),
    ]

    assert [e.status_code for e in errors] == [409, 409, 409, 400]
    for error in errors:
        text = json.dumps(error.json(), ensure_ascii=False)
        assert code not in text
        assert "13812345678" not in text
        assert "中山东一路" not in text
        assert "1" * 65 not in text


# --- the answer is what the documented serializer says ----------------------------------


def _both(benefit: str, **kwargs):
    result = benefit_grant(member="M1", benefit=benefit, via="api", actor=ACTOR, **kwargs)
    context = grant_created_context(result, grant_children(result.grant))
    fast = grant_created_data(result.grant, context)
    documented = GrantCreatedOutput(result.grant, context=context).data
    return json.loads(json.dumps(fast)), json.loads(json.dumps(documented))


def test_the_grant_answer_is_rendered_exactly_as_its_serializer_says():
    MemberFactory(external_id="M1")
    coffee = _unlimited("COFFEE", 5)
    add_fallback(_empty("TOP"), coffee)
    ship = make_benefit(code="FREESHIP", kind="privilege", stock=None, valid_days=30)
    pack = make_benefit(code="WELCOME", kind="pack", stock=None)
    add_item(pack, coffee, quantity=2)
    add_item(pack, ship)
    make_benefit(code="VIDEO", kind="direct_topup", stock=3)
    make_benefit(code="MUG", kind="physical", stock=None, units_left=3)

    answers = [
        _both("COFFEE"),
        _both("TOP"),
        _both("WELCOME"),
        _both("FREESHIP"),
        _both("VIDEO", account="13812345678"),
        _both("MUG", address="上海市黄浦区中山东一路 1 号"),
    ]

    for fast, documented in answers:
        assert fast == documented
    assert answers[1][0]["substituted_from"] == "TOP"
    assert len(answers[2][0]["children"][0]["vouchers"]) == 2


def test_a_coupon_grant_reads_the_benefit_the_batch_and_the_member_once():
    MemberFactory(external_id="M1")
    _unlimited("COFFEE", 3)

    with CaptureQueriesContext(connection) as captured:
        benefit_grant(member="M1", benefit="COFFEE", via="api", actor=ACTOR)

    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    reads = [s for s in statements if s.startswith("SELECT")]
    member_reads = [s for s in reads if '"members_member"' in s]
    benefit_reads = [s for s in reads if '"entitlements_benefit"' in s]
    batch_reads = [s for s in reads if '"vouchers_voucherbatch"' in s]
    assert len(member_reads) == 1  # the lock
    assert len(benefit_reads) == 1  # after the lock
    assert len(batch_reads) == 1  # with the benefit's sources
    # lock, benefit with sources and batches, the voucher, its event, grant, granted voucher
    assert len(statements) <= 6, statements
