import pytest

from members.services import member_upsert
from riskcontrol.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import VoucherEvent
from vouchers.services import voucher_claim, voucher_freeze, voucher_void

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed():
    member_upsert(external_id="M1")
    make_batch(quantity=3, code="REV", per_member_limit=None)
    return [
        voucher_claim(batch_code="REV", member_external_id="M1", actor=Actor.system()).voucher
        for _ in range(3)
    ]


def test_reveal_returns_the_code_and_records_the_partner(partner_api, claimed):
    api = partner_api(scopes=["vouchers:reveal"])

    response = api.get(f"/api/v1/vouchers/{claimed[0].serial}/secret")

    assert response.status_code == 200
    assert response.json()["serial"] == claimed[0].serial
    assert len(response.json()["code"]) == 19
    assert "no-store" in response["Cache-Control"]
    event = VoucherEvent.objects.get(action="reveal")
    assert (event.voucher, event.partner_client) == (claimed[0], api.partner_client)


def test_reveal_without_the_scope_is_403_and_records_nothing(partner_api, claimed):
    api = partner_api(scopes=["vouchers:read"])

    response = api.get(f"/api/v1/vouchers/{claimed[0].serial}/secret")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_reveal_of_frozen_void_and_unknown_vouchers(partner_api, claimed):
    api = partner_api(scopes=["vouchers:reveal"])
    voucher_freeze(voucher=claimed[1], actor=Actor.system())
    voucher_void(voucher=claimed[2], actor=Actor.system())

    frozen = api.get(f"/api/v1/vouchers/{claimed[1].serial}/secret")
    void = api.get(f"/api/v1/vouchers/{claimed[2].serial}/secret")
    unknown = api.get("/api/v1/vouchers/NOPE-000001/secret")

    assert (frozen.status_code, frozen.json()["code"]) == (409, "voucher_frozen")
    assert (void.status_code, void.json()["code"]) == (409, "voucher_void")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert not VoucherEvent.objects.filter(action="reveal").exists()
