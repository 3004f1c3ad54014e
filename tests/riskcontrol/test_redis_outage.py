"""Redis down or hung (issue 9 #12): against a redis-server this test starts, stops
(down) and SIGSTOPs (hung) itself — never the shared one on 6379.

The API and the store check keep working (throttle and guessing counters fall back to
the database, cache reads miss), limits still hold, and health answers 503 within 2 s.
"""

import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis
from django.test import Client

from riskcontrol.fallback import breaker
from riskcontrol.models import GuessCounter
from tests.redemption.factories import claimed_code, make_staff, make_store
from tests.utils import IN_CI

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not shutil.which("redis-server") and not IN_CI,
        reason="Redis outage test: needs redis-server on PATH (apt-get install redis-server)",
    ),
]
WRITE = ["redemptions:write", "redemptions:read", "batches:read"]
CACHE = "riskcontrol.fallback.FailSoftRedisCache"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def hang(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        self.process.wait(timeout=10)


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
