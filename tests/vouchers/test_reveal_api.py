import pytest

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import VoucherEvent
from vouchers.services import voucher_claim, voucher_freeze, voucher_void

pytestmark = pytest.mark.django_db


@pytest.fixture
def revealer(partner_api):
    """A partner client holding vouchers:reveal (and vouchers:read)."""
    return partner_api(scopes=["vouchers:reveal", "vouchers:read"])


@pytest.fixture
def claimed(revealer):
    """Three vouchers claimed through `revealer`'s client."""
    member_upsert(external_id="M1")
    make_batch(quantity=3, code="REV", per_member_limit=None)
    actor = Actor.for_partner(revealer.partner_client)
    return [
        voucher_claim(batch_code="REV", member_external_id="M1", actor=actor).voucher
        for _ in range(3)
    ]


def test_reveal_returns_the_code_and_records_the_partner(revealer, claimed):
    api = revealer

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


def test_reveal_of_frozen_void_and_unknown_vouchers(revealer, claimed):
    api = revealer
    voucher_freeze(voucher=claimed[1], actor=Actor.system())
    voucher_void(voucher=claimed[2], actor=Actor.system())

    frozen = api.get(f"/api/v1/vouchers/{claimed[1].serial}/secret")
    void = api.get(f"/api/v1/vouchers/{claimed[2].serial}/secret")
    unknown = api.get("/api/v1/vouchers/NOPE-000001/secret")

    assert (frozen.status_code, frozen.json()["code"]) == (409, "voucher_frozen")
    assert (void.status_code, void.json()["code"]) == (409, "voucher_void")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert not VoucherEvent.objects.filter(action="reveal").exists()


# --- A client reveals only vouchers claimed through it (issue 9, item 14) ----------------


@pytest.fixture
def walkable_batch():
    """40 consecutive serials, all claimed by the system (no partner client)."""
    member_upsert(external_id="M2")
    make_batch(quantity=40, code="WALK", per_member_limit=None)
    return [
        voucher_claim(batch_code="WALK", member_external_id="M2", actor=Actor.system()).voucher
        for _ in range(40)
    ]


def test_a_reveal_key_cannot_walk_consecutive_serials(revealer, walkable_batch, settings):
    settings.GUESS_LIMIT = 100

    answers = [revealer.get(f"/api/v1/vouchers/{v.serial}/secret") for v in walkable_batch]

    assert [a.status_code for a in answers] == [404] * 40
    assert {a.json()["code"] for a in answers} == {"not_found"}
    assert not VoucherEvent.objects.filter(action="reveal").exists()
    assert not [a for a in answers if b'"code":"' in a.content and b"not_found" not in a.content]


def test_another_clients_voucher_answers_like_an_unknown_serial(partner_api, revealer, claimed):
    other = partner_api(scopes=["vouchers:reveal"])

    theirs = other.get(f"/api/v1/vouchers/{claimed[0].serial}/secret")
    unknown = other.get("/api/v1/vouchers/REV-999999/secret")

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_reveal_any_lifts_the_restriction(partner_api, walkable_batch):
    auditor = partner_api(scopes=["vouchers:reveal", "vouchers:reveal_any"])

    response = auditor.get(f"/api/v1/vouchers/{walkable_batch[7].serial}/secret")

    assert response.status_code == 200
    assert response.json()["serial"] == walkable_batch[7].serial
    event = VoucherEvent.objects.get(action="reveal")
    assert event.partner_client == auditor.partner_client


def test_unknown_and_foreign_serials_count_towards_the_guessing_limit(
    revealer, claimed, walkable_batch, settings
):
    settings.GUESS_LIMIT = 5
    foreign = [revealer.get(f"/api/v1/vouchers/{v.serial}/secret") for v in walkable_batch[:3]]
    unknown = [revealer.get(f"/api/v1/vouchers/NOPE-{i:06d}/secret") for i in range(2)]

    own = revealer.get(f"/api/v1/vouchers/{claimed[0].serial}/secret")

    assert [r.status_code for r in foreign + unknown] == [404] * 5
    assert own.status_code == 429
    assert own.json()["code"] == "rate_limited"
    assert int(own["Retry-After"]) >= 1
    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_a_claim_through_the_api_can_then_be_revealed_by_the_same_client(partner_api):
    member_upsert(external_id="M3")
    make_batch(quantity=2, code="OWN", per_member_limit=None)
    crm = partner_api(scopes=["vouchers:claim", "vouchers:reveal"])
    other = partner_api(scopes=["vouchers:claim", "vouchers:reveal"])

    claim = crm.post("/api/v1/batches/OWN/claims", {"member": "M3"}, format="json")
    serial = claim.json()["voucher"]["serial"]
    mine = crm.get(f"/api/v1/vouchers/{serial}/secret")
    theirs = other.get(f"/api/v1/vouchers/{serial}/secret")

    assert mine.status_code == 200
    assert mine.json()["code"] == claim.json()["code"]
    assert theirs.status_code == 404


def test_claim_responses_are_not_stored_by_caches(partner_api):
    member_upsert(external_id="M4")
    make_batch(quantity=2, code="NOSTORE", per_member_limit=None)
    crm = partner_api(scopes=["vouchers:claim"])

    first = crm.post(
        "/api/v1/batches/NOSTORE/claims", {"member": "M4"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    replay = crm.post(
        "/api/v1/batches/NOSTORE/claims", {"member": "M4"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert "no-store" in first["Cache-Control"]
    assert "no-store" in replay["Cache-Control"]
