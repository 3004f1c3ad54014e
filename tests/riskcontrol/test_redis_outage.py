"""Redis down or hung (issue 9 #12): against a redis-server this test starts, stops
(down) and SIGSTOPs (hung) itself — never the shared one on 6379.

The API and the store check keep working (throttle and guessing counters fall back to
the database, cache reads miss), limits still hold, and health answers 503 within 2 s.
"""

import logging
import time
from decimal import Decimal

import pytest
import redis
from django.test import Client

from riskcontrol.core.actors import Actor
from riskcontrol.models import GuessCounter
from riskcontrol.rules.fallback import breaker
from tests.redemption.factories import claimed_code, make_staff, make_store
from tests.redis_server import OwnRedis, requires_redis_server

pytestmark = [
    pytest.mark.django_db,
    requires_redis_server,
]
WRITE = ["redemptions:write", "redemptions:read", "batches:read"]
CACHE = "riskcontrol.rules.fallback.FailSoftRedisCache"


@pytest.fixture
def own_redis(settings):
    server = OwnRedis()
    settings.CACHES = {
        "default": {"BACKEND": CACHE, "LOCATION": server.url(0)},
        "progress": {"BACKEND": CACHE, "LOCATION": server.url(0)},
    }
    settings.RISK_REDIS_URL = server.url(0)
    settings.CELERY_BROKER_URL = server.url(1)
    breaker.reset()
    yield server
    breaker.reset()
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(params=["down", "hung"])
def outage(request, own_redis):
    """Redis terminated, or alive on its port but answering nothing (SIGSTOP)."""
    if request.param == "down":
        own_redis.stop()
    else:
        own_redis.hang()
    return request.param


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture
def store():
    return make_store("S001")


def test_the_api_redeems_and_reads_while_redis_is_out(outage, partner_api, store):
    claim = claimed_code()
    api = partner_api(scopes=WRITE)

    batch, read_took = timed(lambda: api.get("/api/v1/batches/RED"))
    redeemed, redeem_took = timed(
        lambda: api.post(
            "/api/v1/redemptions", {"code": claim.code, "store": "S001"}, format="json"
        )
    )
    unknown = api.post(
        "/api/v1/redemptions", {"code": "WRONG-0001", "store": "S001"}, format="json"
    )

    assert batch.status_code == 200
    assert batch.json()["claimed"] == 1
    assert redeemed.status_code == 201, redeemed.content
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    assert read_took < 1.5 and redeem_took < 1.5, (read_took, redeem_took)
    # the guess was counted in the database fallback (actor and store), not lost
    assert GuessCounter.objects.filter(key=f"guess:client:{api.partner_client.pk}").get().count == 1


def test_the_store_check_works_while_redis_is_out(outage, store):
    claim = claimed_code(name="新人立减10元")
    make_staff("clerk", store)
    client = Client()
    client.post("/store/login/", {"username": "clerk", "password": "pw-staff-123"})

    page, took = timed(lambda: client.post("/store/check/", {"code": claim.code}))

    assert page.status_code == 200
    assert "新人立减10元" in page.content.decode()
    assert took < 1.5, took


def test_limits_still_hold_while_redis_is_out(outage, partner_api, store, settings):
    settings.PARTNER_API_RATE = "3/min"
    api = partner_api(scopes=WRITE)

    answers = [api.get("/api/v1/batches/NONE").status_code for _ in range(4)]

    assert answers == [404, 404, 404, 429]


def test_the_guessing_limit_still_holds_while_redis_is_out(outage, partner_api, store):
    api = partner_api(scopes=WRITE)
    body = {"store": "S001"}

    answers = [
        api.post("/api/v1/redemptions", {**body, "code": f"WRONG-{n:04d}"}, format="json")
        for n in range(21)
    ]

    assert [answer.status_code for answer in answers] == [404] * 20 + [429]
    assert answers[-1].json()["code"] == "rate_limited"


def test_health_answers_503_within_two_seconds(outage):
    response, took = timed(lambda: Client().get("/api/v1/health"))

    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "unavailable"}
    assert took < 2, took


def test_after_the_outage_redis_is_used_again(own_redis, partner_api, store, settings):
    settings.REDIS_RETRY_SECONDS = 0
    api = partner_api(scopes=WRITE)

    api.post("/api/v1/redemptions", {"code": "WRONG-0001", "store": "S001"}, format="json")

    assert not GuessCounter.objects.exists()
    counted = redis.Redis.from_url(own_redis.url(0)).get(f"guess:client:{api.partner_client.pk}")
    assert counted == b"1"
    assert Client().get("/api/v1/health").status_code == 200


@pytest.fixture
def broker_at(own_redis, settings):
    """The Celery app publishing to our own Redis (eager off), restored afterwards."""
    from config.celery import app

    names = [
        "broker_write_url",
        "task_always_eager",
        "broker_transport_options",
        "broker_connection_timeout",
        "task_publish_retry_policy",
    ]
    before = {name: app.conf.get(name) for name in names}
    # broker_url gives way to $CELERY_BROKER_URL; publishing uses the write URL. The
    # options are the ones the settings give a Redis broker (with SQLite/embedded runs
    # the configured broker is the file system one).
    app.conf.update(
        broker_write_url=own_redis.url(1),
        task_always_eager=False,
        broker_transport_options=settings.REDIS_BROKER_TRANSPORT_OPTIONS,
        broker_connection_timeout=2,
        task_publish_retry_policy=settings.REDIS_BROKER_PUBLISH_RETRY_POLICY,
    )
    _forget_connections(app)
    yield app
    app.conf.update(before)
    _forget_connections(app)


def _forget_connections(app) -> None:
    """Connection and producer pools are bound to the broker they were made for."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_job_started_while_the_broker_is_out_waits_for_the_sweeper(
    outage, broker_at, caplog, settings
):
    from tests.vouchers.test_job_sweeper import later
    from vouchers.models import VoucherBatch
    from vouchers.services import voucher_batch_create
    from vouchers.sweeper import stale_jobs_resume

    # (an embedded Celery worker earlier in the run may have left the root logger at ERROR)
    caplog.set_level(logging.WARNING, logger="vouchers.tasks")
    # given Redis is out: starting a long job neither fails nor hangs the request
    batch, took = timed(
        lambda: voucher_batch_create(
            code="OUTAGE",
            name="Started during an outage",
            face_value=Decimal("5.00"),
            valid_days=7,
            quantity=40,
            activate=True,
            actor=Actor.system("test"),
        )
    )
    assert took < 15, took
    assert VoucherBatch.objects.get(pk=batch.pk).generation == "pending"
    assert "left to the stale-job sweeper" in caplog.text

    # when the broker answers again, the sweeper's run enqueues it (eager here)
    broker_at.conf.task_always_eager = True
    stale_jobs_resume(now=later())

    batch.refresh_from_db()
    assert (batch.generation, batch.generated_count, batch.status) == ("done", 40, "active")


@pytest.mark.django_db(transaction=True)
def test_a_console_action_that_needs_the_broker_says_so_while_it_is_out(
    outage, broker_at, console_client
):
    operator = console_client("Operator")

    response = operator.post("/admin/riskcontrol/idempotencykey/purge-expired/", follow=True)

    assert response.status_code == 200
    assert "The background worker cannot be reached right now." in response.content.decode()
