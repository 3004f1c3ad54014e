"""Console writes on partner clients go through the riskcontrol services and leave an
audit event with the operator as actor."""

import pytest
from django.contrib.auth.models import User

from riskcontrol.models import AuditEvent, PartnerClient
from riskcontrol.services import partner_client_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def change_form(**overrides):
    data = {
        "name": "ERP",
        "scopes": ["stores:read"],
        "store_code": "",
        "active": "on",
        "notes": "",
        # the read-only key inline
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_partner_client_change_form_saves_through_the_service_with_an_audit_event(operator):
    # given
    client = partner_client_create(name="ERP", scopes=["stores:read"])
    form = change_form(name="ERP prod", scopes=["stores:read", "stores:write"], store_code="S9")
    del form["active"]  # unticked: deactivate

    # when
    response = operator.post(f"/admin/riskcontrol/partnerclient/{client.pk}/change/", form)

    # then
    assert response.status_code == 302
    client.refresh_from_db()
    assert (client.name, client.scopes, client.store_code, client.active) == (
        "ERP prod",
        ["stores:read", "stores:write"],
        "S9",
        False,
    )
    event = AuditEvent.objects.get(subject="riskcontrol.partnerclient", action="update")
    assert event.subject_id == str(client.pk)
    assert event.user == User.objects.get(username="operator-user")
    assert (event.actor_kind, event.actor_label) == ("user", "operator-user")
    assert event.changes == {
        "name": {"from": "ERP", "to": "ERP prod"},
        "scopes": {"from": ["stores:read"], "to": ["stores:read", "stores:write"]},
        "store_code": {"from": "", "to": "S9"},
        "active": {"from": True, "to": False},
    }


def test_partner_client_add_form_keeps_an_unticked_active_and_records_who(operator):
    form = change_form(name="POS")
    del form["active"]

    response = operator.post("/admin/riskcontrol/partnerclient/add/", form)

    assert response.status_code == 302
    client = PartnerClient.objects.get(name="POS")
    assert client.active is False
    event = AuditEvent.objects.get(subject_id=str(client.pk), action="create")
    assert event.actor_label == "operator-user"


def test_issuing_and_revoking_keys_in_the_console_are_audited_without_the_key(operator):
    client = partner_client_create(name="CRM", scopes=[])

    page = operator.post(f"/admin/riskcontrol/partnerclient/{client.pk}/issue-key/", {"name": "k"})
    operator.post(
        "/admin/riskcontrol/partnerclient/",
        {"action": "revoke_keys", "_selected_action": [client.pk], "confirmed": "yes"},
    )

    raw_key = page.context["raw_key"]
    events = AuditEvent.objects.filter(subject_id=str(client.pk)).order_by("id")
    assert [(e.action, e.actor_label) for e in events] == [
        ("create", "system"),
        ("issue_key", "operator-user"),
        ("revoke_keys", "operator-user"),
    ]
    assert events[1].changes["key"]["to"] == raw_key.split(".")[0]
    assert raw_key not in str([e.changes for e in events])


def test_audit_events_are_read_only_in_the_console(operator):
    client = partner_client_create(name="CRM", scopes=[])
    event = AuditEvent.objects.get(subject_id=str(client.pk))

    assert operator.get("/admin/riskcontrol/auditevent/").status_code == 200
    response = operator.post(f"/admin/riskcontrol/auditevent/{event.pk}/change/", {})
    assert response.status_code == 403


def test_deleting_a_partner_client_in_the_console_is_audited(operator):
    client = partner_client_create(name="Old CRM", scopes=[])

    operator.post(f"/admin/riskcontrol/partnerclient/{client.pk}/delete/", {"post": "yes"})

    assert not PartnerClient.objects.exists()
    event = AuditEvent.objects.get(action="delete")
    assert (event.subject_label, event.actor_label) == ("Old CRM", "operator-user")
