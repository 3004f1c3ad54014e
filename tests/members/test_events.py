"""Member events through the partner API: validation, idempotency, effects."""

import datetime as dt
from decimal import Decimal

import pytest

from members.models import EarningRule, Member, MemberEvent, PointsEntry
from tests.members.factories import MemberFactory, TierFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/{}/events"


@pytest.fixture
def api(partner_api):
    return partner_api(scopes=["members:events"])


@pytest.fixture
def rules():
    EarningRule.objects.create(
        code="purchase",
        event="purchase",
        points_per_yuan=Decimal("1"),
        growth_per_yuan=Decimal("1"),
    )
    EarningRule.objects.create(code="checkin", event="check_in", points=5, growth=1)


def test_purchase_answers_201_with_effects_then_200_with_the_same_body(api, rules):
    TierFactory(code="normal", rank=1, threshold=0)
    TierFactory(code="silver", rank=2, threshold=100)
    MemberFactory(external_id="M1")
    body = {
        "event_id": "evt-1",
        "kind": "purchase",
        "amount": "128.80",
        "order_ref": "SO-1",
        "occurred_at": "2026-03-15T10:00:00+08:00",
    }

    first = api.post(URL.format("M1"), body, format="json")
    again = api.post(URL.format("M1"), {**body, "amount": "999.00"}, format="json")

    assert first.status_code == 201, first.json()
    assert first.json() == {
        "event_id": "evt-1",
        "kind": "purchase",
        "member": "M1",
        "occurred_at": "2026-03-15T10:00:00+08:00",
        "amount": "128.80",
        "order_ref": "SO-1",
        "effects": {"points": 128, "growth": 128, "tier_before": None, "tier_after": "silver"},
    }
    assert again.status_code == 200
    assert again.json() == first.json()
    member = Member.objects.get(external_id="M1")
    assert (member.points, member.growth_value, member.tier.code) == (128, 128, "silver")
    assert member.last_event_at == dt.datetime.fromisoformat("2026-03-15T10:00:00+08:00")
    assert MemberEvent.objects.count() == 1
    assert PointsEntry.objects.count() == 1


def test_the_same_event_id_from_another_client_is_another_event(api, partner_api, rules):
    MemberFactory(external_id="M1")
    other = partner_api(scopes=["members:events"])
    body = {"event_id": "evt-1", "kind": "check_in"}

    assert api.post(URL.format("M1"), body, format="json").status_code == 201
    assert other.post(URL.format("M1"), body, format="json").status_code == 201
    assert Member.objects.get(external_id="M1").points == 10


def test_event_without_rules_has_zero_effects_and_custom_kinds_are_accepted(api):
    member = MemberFactory(external_id="M1", tier=TierFactory(code="gold", rank=3))

    response = api.post(
        URL.format("M1"),
        {"event_id": "e1", "kind": "custom.share_poster", "payload": {"x": 1}},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["effects"] == {
        "points": 0,
        "growth": 0,
        "tier_before": "gold",
        "tier_after": "gold",
    }
    member.refresh_from_db()
    assert member.last_event_at is not None


def test_unknown_member_is_404(api):
    response = api.post(URL.format("NOBODY"), {"event_id": "e1", "kind": "login"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kind": "teleport"}, "kind", "Unknown event kind"),
        ({"kind": "custom."}, "kind", "Unknown event kind"),
        (
            {"kind": "purchase", "order_ref": "O1"},
            "amount",
            "A purchase needs an amount above zero.",
        ),
        ({"kind": "purchase", "amount": "0", "order_ref": "O1"}, "amount", "above zero"),
        ({"kind": "purchase", "amount": "10"}, "order_ref", "Required for a purchase or a refund."),
        ({"kind": "refund", "order_ref": "NOPE"}, "order_ref", "No purchase of this member"),
        ({"kind": "invite_accepted"}, "payload", "payload.invitee"),
        ({"kind": "cart_abandoned", "payload": {"items": "x"}}, "payload", "must be a list"),
        ({"kind": "login", "occurred_at": "2099-01-01T00:00:00+08:00"}, "occurred_at", "future"),
        ({"kind": "login", "amount": "-1"}, "amount", "zero or more"),
    ],
)
def test_bad_kind_or_payload_is_400_with_field_errors(api, rules, body, field, message):
    MemberFactory(external_id="M1")

    response = api.post(URL.format("M1"), {"event_id": "e1", **body}, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert message in response.json()["errors"][field][0]
    assert not MemberEvent.objects.exists()


def test_a_second_purchase_with_the_same_order_ref_is_refused(api, rules):
    MemberFactory(external_id="M1")
    body = {"kind": "purchase", "amount": "10", "order_ref": "O1"}
    api.post(URL.format("M1"), {"event_id": "e1", **body}, format="json")

    response = api.post(URL.format("M1"), {"event_id": "e2", **body}, format="json")

    assert response.status_code == 400
    assert "already recorded" in response.json()["errors"]["order_ref"][0]


def test_refund_through_the_api(api, rules):
    MemberFactory(external_id="M1")
    api.post(
        URL.format("M1"),
        {"event_id": "e1", "kind": "purchase", "amount": "50", "order_ref": "O1"},
        format="json",
    )

    response = api.post(
        URL.format("M1"),
        {"event_id": "e2", "kind": "refund", "order_ref": "O1", "amount": "20"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["effects"]["points"] == -20
    assert response.json()["effects"]["growth"] == -20


def test_events_need_the_members_events_scope(partner_api):
    MemberFactory(external_id="M1")
    api = partner_api(scopes=["members:read"])

    response = api.post(URL.format("M1"), {"event_id": "e1", "kind": "login"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_context_is_kept_with_the_event(api):
    MemberFactory(external_id="M1")

    api.post(
        URL.format("M1"),
        {"event_id": "e1", "kind": "login", "context": {"ip": "203.0.113.7", "device_id": "d-1"}},
        format="json",
    )

    event = MemberEvent.objects.get()
    assert event.context["end_user"] == {"ip": "203.0.113.7", "device_id": "d-1"}
    assert event.partner_client_id is not None


def test_a_repeated_refund_answers_its_first_result_after_the_full_refund(api, rules):
    MemberFactory(external_id="M1")
    buy = {"event_id": "e1", "kind": "purchase", "amount": "50", "order_ref": "O1"}
    refund = {"event_id": "e2", "kind": "refund", "order_ref": "O1"}
    api.post(URL.format("M1"), buy, format="json")

    first = api.post(URL.format("M1"), refund, format="json")
    again = api.post(URL.format("M1"), refund, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["effects"]["points"] == -50
    assert Member.objects.get(external_id="M1").points == 0
