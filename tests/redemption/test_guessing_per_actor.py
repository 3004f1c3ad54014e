"""Guessing limits count per actor (clerk, partner client), never per store (issue 9 #13)."""

import logging

import pytest

from redemption.models import Redemption
from redemption.services import redemption_create
from riskcontrol.core.actors import Actor
from riskcontrol.models import RiskAlert
from tests.redemption.factories import claimed_code, make_staff, make_store
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
WRITE = ["redemptions:write", "redemptions:read"]


@pytest.fixture(params=["redis", "database"])
def counters_in(request, settings):
    """Both places the counts live: Redis (CACHE_URL set) and the embedded database."""
    if request.param == "database":
        settings.RISK_REDIS_URL = ""
    elif not settings.RISK_REDIS_URL:
        pytest.skip("set CACHE_URL=redis://... to count in Redis")
    return request.param


@pytest.fixture
def store():
    return make_store("S001")


def guess(api, attempt, store_code="S001"):
    return api.post(
        "/api/v1/redemptions",
        {"code": f"WRONG-{attempt:04d}", "store": store_code},
        format="json",
    )


def test_one_partner_guessing_blocks_only_itself_not_the_stores_clerks(
    counters_in, partner_api, store
):
    guesser = partner_api(scopes=WRITE)
    answers = [guess(guesser, attempt).status_code for attempt in range(20)]
    clerk = make_staff("clerk", store)
    claim = claimed_code()
    other_claim = claimed_code(batch_code="RED2", member="M2")
    other_partner = partner_api(scopes=WRITE)

    blocked = guess(guesser, 21)
    by_clerk = redemption_create(
        store_code="S001", actor=Actor.for_user(clerk), code=claim.code, order_ref="T-1"
    )
    by_other_partner = other_partner.post(
        "/api/v1/redemptions", {"code": other_claim.code, "store": "S001"}, format="json"
    )

    assert answers == [404] * 20
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert by_clerk.status == Redemption.Status.COMPLETED
    assert by_other_partner.status_code == 201
    assert Voucher.objects.get(pk=claim.voucher.pk).status == "redeemed"
    assert Voucher.objects.get(pk=other_claim.voucher.pk).status == "redeemed"


def test_a_store_wide_burst_raises_one_alert_and_slows_only_the_guessers(
    counters_in, partner_api, store, settings, caplog
):
    settings.GUESS_STORE_ALERT_AT = 30
    guessers = [partner_api(scopes=WRITE) for _ in range(3)]
    clerk = make_staff("clerk", store)
    claim = claimed_code()

    with caplog.at_level(logging.WARNING, logger="riskcontrol.rules.guessing"):
        answers = [
            guess(api, 100 * number + attempt).status_code
            for number, api in enumerate(guessers)
            for attempt in range(15)
        ]
    redeemed = redemption_create(store_code="S001", actor=Actor.for_user(clerk), code=claim.code)

    assert answers.count(404) == 3 * 15
    alert = RiskAlert.objects.get()
    assert alert.kind == RiskAlert.Kind.GUESSING_BURST
    assert alert.count == 30
    assert str(store.pk) in alert.subject
    assert any(
        record.levelname == "WARNING" and "Guessing burst" in record.getMessage()
        for record in caplog.records
    )
    assert "WRONG-" not in alert.detail + caplog.text
    assert redeemed.status == Redemption.Status.COMPLETED


def test_the_alert_is_shown_in_the_console(console_client, store, settings):
    from riskcontrol.rules.guessing import guess_failure_record, guess_keys

    settings.GUESS_STORE_ALERT_AT = 2
    keys = guess_keys(store_id=store.pk, client_id=7)
    guess_failure_record(keys, actor_label="CRM")
    guess_failure_record(keys, actor_label="CRM")

    page = console_client("Operator").get("/admin/riskcontrol/riskalert/")

    assert page.status_code == 200
    assert "CRM" in page.content.decode()
