import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from members.services import member_upsert
from redemption.models import Redemption, Store
from riskcontrol.core.actors import Actor
from tests.redemption.factories import claimed_code, make_store
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db
WRITE = ["redemptions:write", "redemptions:read"]


@pytest.fixture
def store():
    return make_store("S001")


def post(api, body, **headers):
    return api.post("/api/v1/redemptions", body, format="json", **headers)


def test_redeem_by_code_answers_201_with_the_redemption(partner_api, store):
    claim = claimed_code()
    api = partner_api(scopes=WRITE)

    response = post(
        api, {"code": claim.code, "store": "S001", "order_ref": "A1", "order_amount": "99.50"}
    )

    assert response.status_code == 201
    body = response.json()
    redemption = Redemption.objects.get()
    assert body == {
        "id": redemption.pk,
        "voucher": claim.voucher.serial,
        "batch": "RED",
        "store": "S001",
        "order_ref": "A1",
        "order_amount": "99.50",
        "discount_amount": "10.00",
        "currency": "CNY",
        "status": "completed",
        "redeemed_at": body["redeemed_at"],
        "reversed_at": None,
    }
    assert redemption.partner_client == api.partner_client
    assert api.get(f"/api/v1/redemptions/{redemption.pk}").json() == body


def test_already_redeemed_carries_when_and_where(partner_api, store):
    claim = claimed_code()
    api = partner_api(scopes=WRITE)
    post(api, {"code": claim.code, "store": "S001"})

    response = post(api, {"code": claim.code, "store": "S001"})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_redeemed"
    assert body["store"] == "S001"
    assert body["redeemed_at"] == Redemption.objects.get().redeemed_at.isoformat()


def test_body_needs_exactly_one_of_code_token_serial(partner_api, store):
    api = partner_api(scopes=WRITE)

    both = post(api, {"code": "X", "serial": "Y", "store": "S001"})
    none = post(api, {"store": "S001"})

    assert both.status_code == none.status_code == 400
    assert both.json()["code"] == "validation_error"
    assert "non_field_errors" in none.json()["errors"]


def test_redeem_by_serial_needs_its_own_scope(partner_api, store):
    claim = claimed_code()

    refused = post(partner_api(scopes=WRITE), {"serial": claim.voucher.serial, "store": "S001"})
    accepted = post(
        partner_api(scopes=[*WRITE, "redemptions:serial"]),
        {"serial": claim.voucher.serial, "store": "S001"},
    )

    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert accepted.status_code == 201


def test_a_store_bound_key_is_refused_at_another_store(partner_api, store):
    claim = claimed_code()
    make_store("S002")
    api = partner_api(scopes=WRITE, store_code="S002")

    refused = post(api, {"code": claim.code, "store": "S001"})
    accepted = post(api, {"code": claim.code, "store": "S002"})
    other_store_redemption = post(
        partner_api(scopes=WRITE), {"code": claimed_code("RED2").code, "store": "S001"}
    )

    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert accepted.status_code == 201
    assert api.get(f"/api/v1/redemptions/{other_store_redemption.json()['id']}").status_code == 404


def test_reversal_then_again_then_after_the_window(partner_api, store, time_machine):
    api = partner_api(scopes=WRITE)
    first = post(api, {"code": claimed_code().code, "store": "S001"}).json()
    late = post(api, {"code": claimed_code("LATE").code, "store": "S001"}).json()

    reversed_ = api.post(
        f"/api/v1/redemptions/{first['id']}/reversal", {"reason": "refund"}, format="json"
    )
    again = api.post(
        f"/api/v1/redemptions/{first['id']}/reversal", {"reason": "refund"}, format="json"
    )
    time_machine.move_to(timezone.now() + dt.timedelta(hours=25))
    too_late = api.post(
        f"/api/v1/redemptions/{late['id']}/reversal", {"reason": "x"}, format="json"
    )
    no_reason = api.post(f"/api/v1/redemptions/{late['id']}/reversal", {}, format="json")

    assert reversed_.status_code == 200
    assert reversed_.json()["status"] == "reversed"
    assert reversed_.json()["reversed_at"]
    assert (again.status_code, again.json()["code"]) == (409, "already_reversed")
    assert (too_late.status_code, too_late.json()["code"]) == (409, "reversal_window_passed")
    assert no_reason.status_code == 400


def test_a_retried_redemption_replays_instead_of_answering_already_redeemed(partner_api, store):
    claim = claimed_code()
    api = partner_api(scopes=WRITE)

    first = post(api, {"code": claim.code, "store": "S001"}, HTTP_IDEMPOTENCY_KEY="pos-77")
    retry = post(api, {"code": claim.code, "store": "S001"}, HTTP_IDEMPOTENCY_KEY="pos-77")

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1


def claimed_through(api, batch_code="RED", member="M1"):
    """A voucher claimed through the partner client behind `api` (its member app)."""
    member_upsert(external_id=member)
    make_batch(code=batch_code, quantity=3, per_member_limit=None)
    actor = Actor.for_partner(api.partner_client)
    return voucher_claim(batch_code=batch_code, member_external_id=member, actor=actor)


def present(api, serial):
    return api.post(f"/api/v1/vouchers/{serial}/presentations", {}, format="json")


def test_presentation_token_redeems_through_the_api(partner_api, store):
    member_app = partner_api(scopes=["vouchers:present"])
    claim = claimed_through(member_app)
    pos = partner_api(scopes=WRITE)

    presented = member_app.post(
        f"/api/v1/vouchers/{claim.voucher.serial}/presentations", {}, format="json"
    )
    redeemed = post(pos, {"token": presented.json()["token"], "store": "S001"})

    assert presented.status_code == 201
    assert set(presented.json()) == {"token", "qr_svg", "expires_at"}
    assert presented.json()["qr_svg"].startswith("<svg")
    assert claim.code not in presented.content.decode()
    assert redeemed.status_code == 201


def test_presentation_of_an_unclaimed_voucher_is_409_not_claimed(partner_api, store):
    make_batch(code="NEW", quantity=1)
    serial = Voucher.objects.get(batch__code="NEW").serial
    trusted = partner_api(scopes=["vouchers:present", "vouchers:reveal_any"])

    response = present(trusted, serial)

    assert (response.status_code, response.json()["code"]) == (409, "not_claimed")


def test_a_token_for_another_clients_voucher_answers_like_an_unknown_serial(partner_api, store):
    # A token redeems like the code: the rule of revealing applies (issue 9, item 14).
    owner = partner_api(scopes=["vouchers:present"])
    claim = claimed_through(owner)
    other = partner_api(scopes=["vouchers:present"])

    foreign = present(other, claim.voucher.serial)
    unknown = present(other, "RED-99999999")
    unclaimed = present(other, Voucher.objects.filter(status="available").first().serial)

    assert [r.status_code for r in (foreign, unknown, unclaimed)] == [404, 404, 404]
    assert foreign.json() == unknown.json()
    assert present(owner, claim.voucher.serial).status_code == 201


def test_walking_serials_for_tokens_hits_the_guessing_limit(partner_api, store, settings):
    settings.GUESS_LIMIT = 5
    owner = partner_api(scopes=["vouchers:present"])
    claimed_through(owner)
    walker = partner_api(scopes=["vouchers:present"])
    serials = list(Voucher.objects.order_by("serial").values_list("serial", flat=True))

    statuses = [present(walker, serial).status_code for serial in serials * 2]

    assert statuses == [404] * 5 + [429]
    assert "token" not in json.dumps([present(walker, s).json() for s in serials])


def test_reveal_any_lifts_the_restriction_for_tokens(partner_api, store):
    claim = claimed_code()  # claimed by the system, not through any client
    trusted = partner_api(scopes=["vouchers:present", "vouchers:reveal_any"])

    assert present(trusted, claim.voucher.serial).status_code == 201


def test_an_expired_token_is_409_token_expired(partner_api, store, time_machine):
    member_app = partner_api(scopes=["vouchers:present"])
    claim = claimed_through(member_app)
    token = present(member_app, claim.voucher.serial).json()["token"]
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=3))

    response = post(partner_api(scopes=WRITE), {"token": token, "store": "S001"})

    assert (response.status_code, response.json()["code"]) == (409, "token_expired")


def test_unknown_codes_from_one_partner_turn_into_429(partner_api, store):
    api = partner_api(scopes=WRITE)
    statuses = [post(api, {"code": f"NOPE{i:04d}", "store": "S001"}).status_code for i in range(21)]

    last = post(api, {"code": "NOPE9999", "store": "S001"})

    assert statuses == [404] * 20 + [429]
    assert last.json()["code"] == "rate_limited"
    assert int(last["Retry-After"]) >= 1


def test_stores_are_upserted_and_read(partner_api):
    erp = partner_api(scopes=["stores:write", "stores:read"])

    created = erp.put("/api/v1/stores/SH01", {"name": "上海一店", "group": "上海"}, format="json")
    updated = erp.put("/api/v1/stores/SH01", {"name": "上海一号店", "active": False}, format="json")
    read = erp.get("/api/v1/stores/SH01")

    assert created.status_code == 201
    assert updated.status_code == 200
    assert read.json() == {
        "code": "SH01",
        "name": "上海一号店",
        "address": "",
        "group": "",
        "active": False,
    }
    assert Store.objects.count() == 1
    assert erp.put("/api/v1/stores/SH02", {}, format="json").json()["errors"]["name"]
    assert (
        partner_api(scopes=["stores:read"])
        .put("/api/v1/stores/SH01", {"name": "x"}, format="json")
        .status_code
        == 403
    )
    assert erp.get("/api/v1/stores/NOPE").status_code == 404


def test_discount_is_a_two_place_decimal_string(partner_api, store):
    claim = claimed_code(value_type="percent", percent_off=Decimal("15"), face_value=Decimal("0"))

    body = post(
        partner_api(scopes=WRITE), {"code": claim.code, "store": "S001", "order_amount": "33.33"}
    ).json()

    assert body["discount_amount"] == "5.00"
