"""A member's region (province code) in the partner API and the console."""

import pytest

from members.models import Member
from riskcontrol.models import AuditEvent

pytestmark = pytest.mark.django_db

MESSAGE = "Not a province code: give 6 digits ending in 0000, e.g. 310000 for Shanghai."


def test_the_api_accepts_returns_and_clears_the_region(partner_api):
    api = partner_api(scopes=["members:write", "members:read"])

    created = api.post("/api/v1/members", {"external_id": "M1", "region": "310000"}, format="json")
    read = api.get("/api/v1/members/M1")
    kept = api.post("/api/v1/members", {"external_id": "M1", "name": "x"}, format="json")
    cleared = api.post("/api/v1/members", {"external_id": "M1", "region": None}, format="json")

    assert created.status_code == 201 and created.json()["region"] == "310000"
    assert read.json()["region"] == "310000"
    assert kept.json()["region"] == "310000"
    assert cleared.json()["region"] == ""
    updates = AuditEvent.objects.filter(subject="members.member", action="update")
    changes = updates.order_by("pk").last().changes
    assert changes["region"] == {"from": "310000", "to": ""}


@pytest.mark.parametrize("region", ["310100", "31000", "3100000", "010000", "abcdef"])
def test_the_api_refuses_what_is_not_a_province_code(partner_api, region):
    api = partner_api(scopes=["members:write"])

    response = api.post("/api/v1/members", {"external_id": "M1", "region": region}, format="json")

    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    assert not Member.objects.exists()


def _form(**overrides):
    return {
        "external_id": "M9",
        "name": "Ada",
        "phone": "",
        "email": "",
        "birthday": "",
        "tier": "",
        "lifecycle_stage": "new",
        "region": "440000",
        **overrides,
    }


def test_the_console_sets_the_region_and_filters_by_it(console_client):
    operator = console_client("Operator")

    response = operator.post("/admin/members/member/add/", _form())
    operator.post("/admin/members/member/add/", _form(external_id="M8", region=""))

    assert response.status_code == 302
    assert Member.objects.get(external_id="M9").region == "440000"
    listed = operator.get("/admin/members/member/", {"region": "440000"})
    assert [m.external_id for m in listed.context["cl"].result_list] == ["M9"]


def test_the_console_refuses_a_bad_region_on_the_field(console_client):
    operator = console_client("Operator")

    response = operator.post("/admin/members/member/add/", _form(region="440100"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["region"] == [MESSAGE]
    assert not Member.objects.exists()
