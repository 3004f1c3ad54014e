import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from members.services import member_upsert
from riskcontrol.models import PartnerClient, PartnerClientKey

pytestmark = pytest.mark.django_db


def test_create_partner_client_prints_a_working_key_once_and_stores_it_hashed():
    member_upsert(external_id="M1")
    out = io.StringIO()

    call_command(
        "create_partner_client", "CRM", "--scopes", "members:read,members:write", stdout=out
    )

    raw_key = out.getvalue().strip().splitlines()[-1]
    client = PartnerClient.objects.get(name="CRM")
    assert client.scopes == ["members:read", "members:write"]
    stored = PartnerClientKey.objects.get(client=client)
    assert raw_key not in (stored.id, stored.hashed_key)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert api.get("/api/v1/members/M1").status_code == 200


def test_create_partner_client_binds_a_store():
    call_command(
        "create_partner_client",
        "POS",
        "--scopes",
        "redemptions:write",
        "--store",
        "S001",
        stdout=io.StringIO(),
    )

    assert PartnerClient.objects.get(name="POS").store_code == "S001"


def test_unknown_scope_is_refused():
    with pytest.raises(CommandError, match="Unknown scope: members:everything"):
        call_command("create_partner_client", "X", "--scopes", "members:everything")

    assert not PartnerClient.objects.exists()


def test_duplicate_name_is_refused():
    call_command("create_partner_client", "CRM", "--scopes", "members:read", stdout=io.StringIO())

    with pytest.raises(CommandError, match="already exists"):
        call_command("create_partner_client", "CRM", "--scopes", "members:read")


@pytest.fixture
def operator_client(console_client):
    return console_client("Operator")


def test_operator_adds_a_client_in_the_admin_and_issues_a_key(operator_client):
    response = operator_client.post(
        "/admin/riskcontrol/partnerclient/add/",
        {
            "name": "ERP",
            "scopes": ["stores:read", "stores:write"],
            "store_code": "",
            "active": "on",
        },
    )
    client = PartnerClient.objects.get(name="ERP")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/riskcontrol/partnerclient/{client.pk}/issue-key/"

    page = operator_client.post(response["Location"], {"name": "ERP prod"})

    assert "no-store" in page["Cache-Control"]
    raw_key = page.context["raw_key"]
    assert raw_key in page.content.decode()
    assert PartnerClientKey.objects.get(client=client).name == "ERP prod"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert api.get("/api/v1/members/nobody").status_code == 403  # authenticated, no scope


def test_revoking_keys_asks_for_confirmation_first(operator_client, partner_api):
    api = partner_api(scopes=["members:read"])
    pk = api.partner_client.pk
    form = {"action": "revoke_keys", "_selected_action": [pk]}

    confirm = operator_client.post("/admin/riskcontrol/partnerclient/", form)
    assert confirm.status_code == 200
    assert "Revoke API keys?" in confirm.content.decode()
    assert api.get("/api/v1/members/x").status_code == 404

    done = operator_client.post(
        "/admin/riskcontrol/partnerclient/", {**form, "confirmed": "yes"}, follow=True
    )

    assert "1 key revoked" in done.content.decode()
    assert api.get("/api/v1/members/x").status_code == 401


def test_auditor_cannot_issue_keys(partner_api, console_client):
    client = console_client("Auditor")
    pk = partner_api().partner_client.pk

    assert client.post(f"/admin/riskcontrol/partnerclient/{pk}/issue-key/").status_code == 403
    assert client.get("/admin/riskcontrol/partnerclient/").status_code == 200


def test_operator_purges_expired_idempotency_keys_from_the_console(
    operator_client, partner_api, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from riskcontrol.models import IdempotencyKey

    client = partner_api().partner_client
    IdempotencyKey.objects.create(
        client=client, key="old", fingerprint="f", expires_at=timezone.now()
    )
    page = operator_client.get("/admin/riskcontrol/idempotencykey/")
    assert 'id="purge-expired"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = operator_client.post(
            "/admin/riskcontrol/idempotencykey/purge-expired/", follow=True
        )

    assert len(callbacks) == 1

    assert "Purging expired keys in the background" in response.content.decode()
    assert not IdempotencyKey.objects.exists()


def test_registering_a_taken_name_is_a_clear_validation_error():
    from riskcontrol.core.errors import ValidationFailed
    from riskcontrol.services import partner_client_create

    partner_client_create(name="CRM", scopes=[])

    with pytest.raises(ValidationFailed) as raised:
        partner_client_create(name=" CRM ", scopes=[])

    assert raised.value.errors == {"name": ["A partner client named CRM already exists."]}
    assert PartnerClient.objects.count() == 1
