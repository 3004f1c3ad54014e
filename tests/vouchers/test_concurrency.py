"""Claims under real concurrency on PostgreSQL: nothing oversold, nothing held twice."""

import itertools
import threading

import pytest
from rest_framework.test import APIClient

from members.models import Member
from members.services import member_upsert
from tests.utils import race, requires_postgresql
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher, VoucherEvent

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def outcome(response):
    """(status, problem code) — never the voucher code of a success, which must not
    reach test output."""
    problem_code = response.json()["code"] if response.status_code >= 400 else None
    return response.status_code, problem_code


def client_for(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def test_64_clients_2000_claims_for_a_batch_of_1000(partner_api):
    batch = make_batch(quantity=1_000, code="RUSH")
    Member.objects.bulk_create(Member(external_id=f"R{i:04d}") for i in range(2_000))
    raw_key = partner_api(scopes=["vouchers:claim"]).raw_key
    members = iter(range(2_000))
    lock = threading.Lock()

    def next_member():
        with lock:
            return next(members, None)

    def client_loop(_index):
        client = client_for(raw_key)
        outcomes = []
        while (number := next_member()) is not None:
            response = client.post(
                "/api/v1/batches/RUSH/claims", {"member": f"R{number:04d}"}, format="json"
            )
            outcomes.append(outcome(response))
        return outcomes

    results = race(64, client_loop)

    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = list(itertools.chain.from_iterable(results))
    assert len(outcomes) == 2_000
    assert sum(1 for status, _ in outcomes if status == 201) == 1_000
    assert sum(1 for status, code in outcomes if (status, code) == (409, "sold_out")) == 1_000
    claimed = Voucher.objects.filter(batch=batch, status="claimed")
    assert claimed.count() == 1_000
    assert claimed.values("member").distinct().count() == 1_000
    assert not Voucher.objects.filter(batch=batch, status="available").exists()
    assert VoucherEvent.objects.filter(batch=batch, action="claim").count() == 1_000
    assert VoucherEvent.objects.filter(batch=batch).values("voucher").distinct().count() == 1_000


def test_one_member_with_limit_1_sending_20_claims_at_once_gets_exactly_one(partner_api):
    batch = make_batch(quantity=50, code="ONCE", per_member_limit=1)
    member, _ = member_upsert(external_id="GREEDY")
    raw_key = partner_api(scopes=["vouchers:claim"]).raw_key

    def claim(_index):
        response = client_for(raw_key).post(
            "/api/v1/batches/ONCE/claims", {"member": "GREEDY"}, format="json"
        )
        return outcome(response)

    results = race(20, claim)

    assert sorted(results) == [(201, None)] + [(409, "limit_reached")] * 19
    assert Voucher.objects.filter(batch=batch, member=member).count() == 1
    assert VoucherEvent.objects.filter(batch=batch).count() == 1
