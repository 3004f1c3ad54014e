"""Shared set-up for the benchmark scripts: a fresh PostgreSQL database, the environment
the project reads its settings from, and batch generation through the real path.

Import this module before anything from Django: `bench_env()` sets the environment and
`django_setup()` configures Django against the bench database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
# Never touch the project's own databases.
_FORBIDDEN = {"quanyi", "quanyi_ci", "quanyi_dev", "postgres", "template0", "template1"}


def database_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def bench_env(db_name: str) -> dict[str, str]:
    """Production-like settings against `db_name`, with fresh keys; sets os.environ and
    returns the variables (a server started later must get the very same keys)."""
    from riskcontrol.crypto import generate_key

    values = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": database_url(db_name),
        "VOUCHER_KEYS": f"bench1:{generate_key()}",
        "VOUCHER_INDEX_KEY": generate_key(),
        "SECRET_KEY": "bench-" + generate_key() + generate_key(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PARTNER_API_RATE": "",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(values)
    return values


def recreate_database(name: str) -> None:
    if name in _FORBIDDEN or name.startswith("test_"):
        raise SystemExit(f"Refusing to recreate database {name!r}.")
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    if name in _FORBIDDEN or name.startswith("test_"):
        raise SystemExit(f"Refusing to drop database {name!r}.")
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(*, migrate: bool = True) -> None:
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def close_django_connections() -> None:
    from django.db import connections

    connections.close_all()


def server_info() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {"nproc": str(os.cpu_count()), "postgresql": version}


def generate_batch(
    *, code: str, quantity: int, activate: bool = False, per_member_limit: int | None = 1
) -> tuple[int, float]:
    """Create a batch and generate its vouchers through the real path
    (`voucher_batch_create(generate=False)` + `voucher_batch_generate`), as
    `manage.py create_batch --quantity N` does. Returns (batch id, generation seconds)."""
    from decimal import Decimal

    from riskcontrol.actors import Actor
    from vouchers.services import voucher_batch_create, voucher_batch_generate

    actor = Actor.system("bench")
    batch = voucher_batch_create(
        code=code,
        name=f"Benchmark {code}",
        face_value=Decimal("10.00"),
        quantity=quantity,
        per_member_limit=per_member_limit,
        activate=activate,
        actor=actor,
        generate=False,
    )
    last = [time.perf_counter()]

    def progress(current) -> None:
        now = time.perf_counter()
        if now - last[0] >= 10:
            last[0] = now
            print(f"    {current.generated_count:,} / {current.quantity:,}", flush=True)

    started = time.perf_counter()
    batch = voucher_batch_generate(batch_id=batch.pk, on_chunk=progress)
    elapsed = time.perf_counter() - started
    if batch.generated_count != quantity:
        raise SystemExit(f"Generated {batch.generated_count} instead of {quantity}.")
    return batch.pk, elapsed


def machine_cpu() -> tuple[int, int]:
    """(busy, idle) clock ticks of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, idle


def machine_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPU in use over the next `seconds`: with the benchmark
    idle, that is other users of the machine (their load disturbs the figures)."""
    before = machine_cpu()
    time.sleep(seconds)
    after = machine_cpu()
    busy, idle = after[0] - before[0], after[1] - before[1]
    return busy / max(busy + idle, 1)


def busy_note() -> str:
    busy = machine_busy()
    warning = "" if busy < 0.15 else "  <- not idle: figures may be disturbed"
    return f"(machine CPU busy in the second before: {busy:.0%}{warning})"
