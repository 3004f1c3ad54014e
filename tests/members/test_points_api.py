"""GET …/points and POST …/points/spend."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from members.models import EarningRule, Member
from members.services import member_event_record, points_adjust
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = Actor.system("test")


def test_points_shows_balance_spendable_pending_expiring_and_entries_newest_first(partner_api):
    member = MemberFactory(external_id="M1")
    EarningRule.objects.create(
        code="purchase",
        event="purchase",
        points_per_yuan=Decimal("1"),
        points_pending_days=7,
        points_valid_months=12,
    )
    now = dt.datetime(2026, 3, 15, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(now, tick=False):
        points_adjust(member=member, amount=40, reason="welcome", actor=ACTOR)
        member_event_record(
            member=member,
            event_id="e1",
            kind="purchase",
            amount=Decimal("60"),
            order_ref="O1",
            actor=ACTOR,
        )
        response = partner_api(scopes=["points:read"]).get("/api/v1/members/M1/points")

    assert response.status_code == 200
    body = response.json()
    assert (body["balance"], body["spendable"], body["pending"]) == (100, 40, 60)
    assert body["expiring"] == [{"amount": 60, "expires_at": "2027-03-31T23:59:59.999999+08:00"}]
    assert body["entries"]["count"] == 2
    assert [e["kind"] for e in body["entries"]["results"]] == ["earn", "adjust"]
    assert body["entries"]["results"][0] == {
        "id": body["entries"]["results"][0]["id"],
        "kind": "earn",
        "amount": 60,
        "balance_after": 100,
        "reason": "purchase",
        "ref": "O1",
        "created_at": "2026-03-15T10:00:00+08:00",
        "expires_at": "2027-03-31T23:59:59.999999+08:00",
    }


def test_spend_201_then_409_insufficient_points(partner_api):
    member = MemberFactory(external_id="M1")
    points_adjust(member=member, amount=25, reason="welcome", actor=ACTOR)
    api = partner_api(scopes=["points:write"])

    spent = api.post(
        "/api/v1/members/M1/points/spend",
        {"amount": 20, "reason": "coffee", "ref": "S1"},
        format="json",
    )
    repeat = api.post("/api/v1/members/M1/points/spend", {"amount": 20, "ref": "S1"}, format="json")
    refused = api.post("/api/v1/members/M1/points/spend", {"amount": 6}, format="json")

    assert spent.status_code == 201
    assert {k: spent.json()[k] for k in ("kind", "amount", "balance_after", "reason", "ref")} == {
        "kind": "spend",
        "amount": -20,
        "balance_after": 5,
        "reason": "coffee",
        "ref": "S1",
    }
    assert repeat.status_code == 200
    assert repeat.json() == spent.json()
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "insufficient_points"
    assert refused.json()["spendable"] == 5
    assert refused.json()["detail"] == "5 points can be spent now; 6 were asked for."
    assert Member.objects.get(pk=member.pk).points == 5


@pytest.mark.parametrize("amount", [0, -5, "ten", 1.5])
def test_spend_amount_must_be_a_positive_whole_number(partner_api, amount):
    MemberFactory(external_id="M1")

    response = partner_api(scopes=["points:write"]).post(
        "/api/v1/members/M1/points/spend", {"amount": amount}, format="json"
    )

    assert response.status_code == 400
    assert "amount" in response.json()["errors"]


def test_points_endpoints_need_their_scopes_and_a_known_member(partner_api):
    MemberFactory(external_id="M1")
    reader = partner_api(scopes=["points:read"])

    assert (
        reader.post("/api/v1/members/M1/points/spend", {"amount": 1}, format="json").status_code
        == 403
    )
    assert partner_api(scopes=["points:write"]).get("/api/v1/members/M1/points").status_code == 403
    assert reader.get("/api/v1/members/NOBODY/points").status_code == 404
    unknown = partner_api(scopes=["points:write"]).post(
        "/api/v1/members/NOBODY/points/spend", {"amount": 1}, format="json"
    )
    assert unknown.status_code == 404
