"""Helpers shared by tests: PostgreSQL-only markers, racing threads, database dumps."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

# In CI (CI=true) nothing is skipped: a missing service there is a failure, not a skip.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql" and not IN_CI,
    reason="concurrency test: needs PostgreSQL (set DATABASE_URL); CI runs it there",
)


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together by a barrier; return results
    (or the exception each raised) in order. Each thread closes its DB connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as error:  # the caller asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def dump_database() -> str:
    """Everything the database holds, as text (pg_dump, or SQLite's iterdump)."""
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
        command = [
            "pg_dump",
            "--no-owner",
            "--data-only",
            "--host",
            settings.get("HOST") or "127.0.0.1",
            "--port",
            str(settings.get("PORT") or 5432),
            "--username",
            settings.get("USER") or "postgres",
            settings["NAME"],
        ]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    connection.ensure_connection()
    return "\n".join(connection.connection.iterdump())
