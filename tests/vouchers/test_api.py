import pytest

from members.services import member_upsert
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher, VoucherBatch, VoucherEvent

pytestmark = pytest.mark.django_db
SCOPES = ["vouchers:claim", "vouchers:read", "batches:read", "members:read"]


@pytest.fixture
def api(partner_api):
    member_upsert(external_id="M1")
    return partner_api(scopes=SCOPES)


def post_claim(api, batch_code, body=None, **headers):
    body = body if body is not None else {"member": "M1"}
    return api.post(f"/api/v1/batches/{batch_code}/claims", body, format="json", **headers)


def test_claim_answers_201_with_the_voucher_and_its_code(api):
    batch = make_batch(quantity=2, code="WELCOME")

    response = post_claim(api, "WELCOME", {"member": "M1", "channel": "app", "trace": {"utm": "x"}})

    assert response.status_code == 201
    body = response.json()
    voucher = Voucher.objects.get(status="claimed")
    assert body["voucher"] == {
        "serial": voucher.serial,
        "batch": "WELCOME",
        "kind": "coupon",
        "status": "claimed",
        "member": "M1",
        "value_type": "cash",
        "face_value": "10.00",
        "currency": "CNY",
        "valid_from": None,
        "valid_until": None,
        "expires_at": body["voucher"]["expires_at"],
        "claimed_at": body["voucher"]["claimed_at"],
        "redeemed_at": None,
        "channel": "app",
    }
    assert body["voucher"]["expires_at"].endswith("+08:00")
    assert len(body["code"]) == 19
    event = VoucherEvent.objects.get()
    assert event.partner_client == api.partner_client
    assert event.context["request_id"] == response["X-Request-ID"]
    assert batch.pk == voucher.batch_id


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


def assert_claims_written(count):
    """A refused claim writes nothing: no voucher leaves `available`, no event is added."""
    assert Voucher.objects.exclude(status="available").count() == count
    assert VoucherEvent.objects.count() == count


def test_claim_when_sold_out_is_409_sold_out(api):
    make_batch(quantity=1, code="ONE")
    member_upsert(external_id="M2")
    post_claim(api, "ONE", {"member": "M2"})

    assert_problem(post_claim(api, "ONE"), 409, "sold_out")
    assert_claims_written(1)


def test_claim_over_the_member_limit_is_409_limit_reached(api):
    make_batch(quantity=2, code="ONE", per_member_limit=1)
    post_claim(api, "ONE")

    assert_problem(post_claim(api, "ONE"), 409, "limit_reached")
    assert_claims_written(1)


def test_claim_on_a_paused_batch_is_409_batch_not_active(api):
    batch = make_batch(quantity=1, code="ONE")
    VoucherBatch.objects.filter(pk=batch.pk).update(status="paused")

    assert_problem(post_claim(api, "ONE"), 409, "batch_not_active")
    assert_claims_written(0)


def test_claim_for_an_unknown_member_is_404(api):
    make_batch(quantity=1, code="ONE")

    assert_problem(post_claim(api, "ONE", {"member": "GHOST"}), 404, "not_found")
    assert_claims_written(0)


def test_claim_on_an_unknown_batch_is_404(api):
    assert_problem(post_claim(api, "NOPE"), 404, "not_found")
    assert not VoucherEvent.objects.exists()


def test_claim_body_is_validated(api):
    make_batch(quantity=1, code="ONE")

    response = post_claim(api, "ONE", {"channel": "x" * 40, "trace": "not an object"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"member", "channel", "trace"}
    assert_claims_written(0)


def test_claim_needs_its_scope(partner_api):
    make_batch(quantity=1, code="ONE")
    api = partner_api(scopes=["vouchers:read"])

    assert post_claim(api, "ONE").json()["code"] == "permission_denied"
    assert_claims_written(0)


def test_a_retried_claim_replays_the_same_voucher_and_code(api):
    make_batch(quantity=5, code="ONE", per_member_limit=None)

    first = post_claim(api, "ONE", HTTP_IDEMPOTENCY_KEY="claim-1")
    retry = post_claim(api, "ONE", HTTP_IDEMPOTENCY_KEY="claim-1")

    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Voucher.objects.filter(status="claimed").count() == 1
    assert VoucherEvent.objects.count() == 1


def test_batch_stock_is_counted(api):
    make_batch(quantity=4, code="STOCK", per_member_limit=None, valid_days=None)
    post_claim(api, "STOCK")
    post_claim(api, "STOCK")
    Voucher.objects.filter(serial="STOCK-000001").update(status="redeemed")

    body = api.get("/api/v1/batches/STOCK").json()

    assert {k: body[k] for k in ("total", "available", "claimed", "redeemed", "expired")} == {
        "total": 4,
        "available": 2,
        "claimed": 1,
        "redeemed": 1,
        "expired": 0,
    }
    assert body["code"] == "STOCK"
    assert body["face_value"] == "10.00"
    assert body["per_member_limit"] is None
    assert body["valid_days"] is None


def test_voucher_read_never_carries_the_code(api):
    make_batch(quantity=1, code="ONE")
    claimed = post_claim(api, "ONE").json()

    response = api.get(f"/api/v1/vouchers/{claimed['voucher']['serial']}")

    assert response.status_code == 200
    assert response.json() == claimed["voucher"]
    assert claimed["code"] not in response.content.decode()
    assert api.get("/api/v1/vouchers/NOPE-000001").json()["code"] == "not_found"


def test_member_vouchers_are_paginated_and_filtered(api):
    make_batch(quantity=5, code="MANY", per_member_limit=None)
    for _ in range(3):
        post_claim(api, "MANY")
    Voucher.objects.filter(serial="MANY-000001").update(status="redeemed")

    page = api.get("/api/v1/members/M1/vouchers", {"page_size": 2}).json()
    claimed = api.get("/api/v1/members/M1/vouchers", {"status": "claimed"}).json()
    bad = api.get("/api/v1/members/M1/vouchers", {"status": "nonsense"})

    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]
    assert [v["serial"] for v in claimed["results"]] == ["MANY-000003", "MANY-000002"]
    assert "code" not in claimed["results"][0]
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    assert api.get("/api/v1/members/GHOST/vouchers").status_code == 404
