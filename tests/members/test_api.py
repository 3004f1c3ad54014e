import pytest

from members.models import Member
from riskcontrol.models import AuditEvent
from tests.members.factories import TierFactory

pytestmark = pytest.mark.django_db


def test_post_creates_201_then_updates_200(partner_api):
    TierFactory(code="gold")
    api = partner_api(scopes=["members:write"])
    body = {
        "external_id": "M1",
        "name": "张三",
        "phone": "13912345678",
        "email": "zhang@example.com",
        "birthday": "1990-05-01",
        "tier": "gold",
        "tags": ["vip", "new"],
    }

    created = api.post("/api/v1/members", body, format="json")
    updated = api.post("/api/v1/members", {"external_id": "M1", "tags": None}, format="json")

    assert created.status_code == 201
    assert created.json() == {
        "external_id": "M1",
        "name": "张三",
        "phone": "139****5678",
        "email": "z***@example.com",
        "birthday": "1990-05-01",
        "tier": "gold",
        "points": 0,
        "tags": ["new", "vip"],
        "lifecycle_stage": "new",
        "region": "",
        "created_at": created.json()["created_at"],
    }
    assert created.json()["created_at"].endswith("+08:00")
    assert updated.status_code == 200
    assert updated.json()["tags"] == []
    assert updated.json()["name"] == "张三"


def test_get_returns_the_member_with_masked_contacts(partner_api):
    partner_api(scopes=["members:write"]).post(
        "/api/v1/members", {"external_id": "M1", "phone": "13912345678"}, format="json"
    )
    api = partner_api(scopes=["members:read"])

    response = api.get("/api/v1/members/M1")

    assert response.status_code == 200
    assert response.json()["phone"] == "139****5678"
    assert "13912345678" not in response.content.decode()


def test_external_id_with_reserved_characters_round_trips(partner_api):
    partner_api(scopes=["members:write"]).post(
        "/api/v1/members", {"external_id": "wx:o6_bmjrPTlm6"}, format="json"
    )

    response = partner_api(scopes=["members:read"]).get("/api/v1/members/wx:o6_bmjrPTlm6")

    assert response.status_code == 200
    assert Member.objects.get().external_id == "wx:o6_bmjrPTlm6"


def test_member_upsert_by_a_partner_records_the_partner_as_actor(partner_api):
    api = partner_api(scopes=["members:write"])

    api.post("/api/v1/members", {"external_id": "M1"}, format="json")
    api.post("/api/v1/members", {"external_id": "M1", "tags": ["vip"]}, format="json")

    events = AuditEvent.objects.filter(subject="members.member").order_by("id")
    assert [(e.action, e.partner_client_id) for e in events] == [
        ("create", api.partner_client.pk),
        ("update", api.partner_client.pk),
    ]
    assert events[1].changes == {"tags": {"from": [], "to": ["vip"]}}
