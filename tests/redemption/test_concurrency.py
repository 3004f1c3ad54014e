"""Redemptions racing on PostgreSQL: a voucher is used once, whatever the timing."""

import pytest
from rest_framework.test import APIClient

from redemption.models import Redemption
from tests.redemption.factories import claimed_code, make_store
from tests.utils import race, requires_postgresql
from vouchers.models import VoucherEvent

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def test_20_concurrent_redemptions_of_one_code_exactly_one_wins(partner_api):
    make_store("S001")
    claim = claimed_code()
    raw_key = partner_api(scopes=["redemptions:write"]).raw_key

    def redeem(_index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        response = client.post(
            "/api/v1/redemptions", {"code": claim.code, "store": "S001"}, format="json"
        )
        body = response.json()
        return response.status_code, body["code"] if response.status_code >= 400 else None

    results = race(20, redeem)

    # Every racer either won or was refused cleanly: a 500 fails the test.
    assert all(status in (201, 409) for status, _code in results), results
    assert sorted(results) == [(201, None)] + [(409, "already_redeemed")] * 19
    assert Redemption.objects.filter(voucher=claim.voucher, status="completed").count() == 1
    assert Redemption.objects.count() == 1
    assert VoucherEvent.objects.filter(voucher=claim.voucher, action="redeem").count() == 1


def test_redeem_and_reverse_racing_never_leave_two_live_redemptions(partner_api):
    make_store("S001")
    claim = claimed_code()
    raw_key = partner_api(scopes=["redemptions:write"]).raw_key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    first = client.post(
        "/api/v1/redemptions", {"code": claim.code, "store": "S001"}, format="json"
    ).json()

    def act(index):
        racer = APIClient()
        racer.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        if index == 0:
            return racer.post(
                f"/api/v1/redemptions/{first['id']}/reversal", {"reason": "refund"}, format="json"
            ).status_code
        return racer.post(
            "/api/v1/redemptions", {"code": claim.code, "store": "S001"}, format="json"
        ).status_code

    results = race(10, act)

    assert results[0] == 200
    # Every redeeming racer either won or was refused cleanly: a 500 fails the test.
    assert all(status in (201, 409) for status in results[1:]), results
    assert Redemption.objects.filter(voucher=claim.voucher, status="completed").count() <= 1
    assert (
        sum(1 for status in results[1:] if status == 201)
        == Redemption.objects.filter(voucher=claim.voucher, status="completed").count()
    )
