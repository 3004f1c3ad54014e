"""The database is down: the partner API answers 503 `service_unavailable` (problem+json,
Retry-After), never a 500; health says which part is down.

A real server process (gunicorn, as `make run` and production serve) is started against
a PostgreSQL address where nothing listens: a real outage, nothing patched.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_without_database():
    port, dead_port = _free_port(), _free_port()  # nothing listens on dead_port
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{dead_port}/quanyi",
        "CACHE_URL": "locmemcache://",
        "CELERY_BROKER_URL": "memory://",
    }
    env.pop("RISK_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def call(url: str, *, method: str = "GET", body: bytes | None = None, headers=None):
    request = urllib.request.Request(  # noqa: S310 (http to our own test server)
        url, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our server)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/members/M1", None),
        ("POST", "/api/v1/redemptions", b'{"code": "ABCD", "store": "S001"}'),
        ("POST", "/api/v1/batches/WELCOME10/claims", b'{"member": "M1"}'),
    ],
)
def test_api_answers_503_service_unavailable_when_the_database_is_down(
    server_without_database, method, path, body
):
    status, headers, content = call(
        server_without_database + path,
        method=method,
        body=body,
        headers={"Authorization": "Api-Key abcd.0123", "Content-Type": "application/json"},
    )

    assert status == 503, content[:300]
    assert headers["Content-Type"] == "application/problem+json"
    assert b'"code":"service_unavailable"' in content.replace(b" ", b"")
    assert int(headers["Retry-After"]) >= 1
    assert b"Traceback" not in content and b"5432" not in content


def test_health_says_the_database_is_down(server_without_database):
    status, _headers, content = call(server_without_database + "/api/v1/health")

    assert status == 503
    assert b'"database":"unavailable"' in content.replace(b" ", b"")
