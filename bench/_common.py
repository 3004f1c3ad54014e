"""Shared set-up for the benchmark scripts: a fresh PostgreSQL database, the environment
the project reads its settings from, and batch generation through the real path.

Import this module before anything from Django: `bench_env()` sets the environment and
`django_setup()` configures Django against the bench database.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
MAX_DURATION = 30  # seconds per wrk run
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
        # Each worker keeps its PostgreSQL connection for the whole benchmark (the
        # default, 60 s, would reconnect in the middle of a run and the CPU accounting
        # below would lose the backend; one reconnect a minute is no throughput matter).
        "CONN_MAX_AGE": "600",
        # As in production: the shared cache (and so the guessing counters) in Redis.
        "CACHE_URL": "redis://127.0.0.1:6379/12",
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
    *,
    code: str,
    quantity: int,
    activate: bool = False,
    per_member_limit: int | None = 1,
    **options,
) -> tuple[int, float]:
    """Create a batch and generate its vouchers through the real path
    (`voucher_batch_create(generate=False)` + `voucher_batch_generate`), as
    `manage.py create_batch --quantity N` does; `options` go to `voucher_batch_create`
    (e.g. valid_days). Returns (batch id, generation seconds)."""
    from decimal import Decimal

    from riskcontrol.core.actors import Actor
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
        **options,
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


def wait_quiet(
    *, threshold: float = 0.05, quiet_seconds: int = 8, timeout: float = 300
) -> tuple[bool, float]:
    """Wait until the machine has been idle (busy < `threshold`) for `quiet_seconds`
    seconds in a row, at most `timeout` seconds. Returns (quiet, seconds waited)."""
    started = time.monotonic()
    in_a_row = 0
    while in_a_row < quiet_seconds:
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        in_a_row = in_a_row + 1 if machine_busy(1.0) < threshold else 0
    return True, time.monotonic() - started


# --- set-up through the database -------------------------------------------------------


def create_partner_key(scopes: list[str]) -> str:
    """A partner client with `scopes` and a fresh key; returns the plaintext key."""
    from riskcontrol.services import partner_client_create, partner_key_issue

    client = partner_client_create(name="bench", scopes=scopes)
    _key, plaintext = partner_key_issue(client=client, name="bench")
    return plaintext


def create_members(prefixes: dict[str, int], threads: int) -> int:
    """Members "<prefix><thread>-<n>" for n in 1..count, thread in 1..threads, by COPY."""
    import datetime as dt

    from django.db import connection, transaction

    now = dt.datetime.now(dt.UTC)
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        columns = (
            "external_id, name, pii_key_id, lifecycle_stage, points, growth_value, region,"
            " created_at, updated_at"
        )
        with cursor.cursor.copy(f"COPY members_member ({columns}) FROM STDIN") as copy:
            for prefix, count in prefixes.items():
                for thread in range(1, threads + 1):
                    for n in range(1, count + 1):
                        copy.write_row((f"{prefix}{thread}-{n}", "", "", "new", 0, 0, "", now, now))
                        total += 1
    return total


def vacuum_analyze(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def backend_pids(db_name: str) -> list[int]:
    """PostgreSQL client backends connected to the bench database (the workers'
    connections; not autovacuum workers)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'",
            [db_name],
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def statements_per_request(method: str, path: str, key: str, body: dict | None = None) -> list[str]:
    """The SQL statements one request issues, captured in-process (Django test client,
    same settings as the server) inside a transaction that is rolled back. The request's
    own atomic blocks show up as SAVEPOINT/RELEASE here; in the server they are BEGIN and
    COMMIT. Returns the statements (SAVEPOINTs dropped) with a status line first."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    headers = {"authorization": f"Api-Key {key}"}
    with (
        warnings.catch_warnings(),  # WhiteNoise: no collected static files in a bench
        transaction.atomic(),
        CaptureQueriesContext(connection) as captured,
    ):
        warnings.simplefilter("ignore")
        if method == "GET":
            response = client.get(path, headers=headers)
        else:
            response = client.post(
                path, data=json.dumps(body or {}), content_type="application/json", headers=headers
            )
        transaction.set_rollback(True)
    sql = [q["sql"] for q in captured.captured_queries]
    statements = [s for s in sql if "SAVEPOINT" not in s.upper()]
    blocks = sum(1 for s in sql if s.upper().startswith("SAVEPOINT"))
    return [f"HTTP {response.status_code}, {blocks} transaction(s)", *statements]


def describe_statement(sql: str) -> str:
    """A short label for a statement: verb, main table, row lock."""
    words = sql.replace('"', "").split()
    upper = [word.upper() for word in words]
    verb = upper[0] if upper else "?"
    marker = {"UPDATE": "UPDATE", "INSERT": "INTO"}.get(verb, "FROM")
    table = words[upper.index(marker) + 1].split(".")[0] if marker in upper[:-1] else ""
    lock = " FOR UPDATE" if "FOR UPDATE" in sql.upper() else ""
    lock += " SKIP LOCKED" if "SKIP LOCKED" in sql.upper() else ""
    return f"{verb} {table}{lock}".strip()


# --- server and load -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        "config.wsgi",
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    print("  $ gunicorn " + " ".join(command[1:]))
    with log_path.open("wb") as log:  # the server keeps its own copy of the descriptor
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    url = f"http://127.0.0.1:{port}/api/v1/health"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url} within 30 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the master stops its workers
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def worker_pids(server_pid: int) -> list[int]:
    """The gunicorn workers: children of the master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = CpuMeter.stat(int(entry.name))
            if fields is not None and int(fields[1]) == server_pid:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """Where the machine's CPU went during one wrk run, from /proc (Linux): the gunicorn
    workers, the PostgreSQL backends serving them, wrk itself (a reaped child), and
    everything else (PostgreSQL background processes, other users of the machine)."""

    # "other" CPU above this share of the run's CPU capacity marks the run as disturbed
    DISTURBED_SHARE = 0.05

    def __init__(self, server_pid: int, db_name: str) -> None:
        self.server_pid = server_pid
        self.db_name = db_name
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def stat(pid: int) -> list[str] | None:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None

    def _ticks(self, pids: list[int]) -> int:
        total = 0
        for pid in pids:
            fields = self.stat(pid)
            if fields is not None:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total

    def __enter__(self) -> CpuMeter:
        self.pids = [self.server_pid, *worker_pids(self.server_pid)]
        self.backend_start = {pid: self._ticks([pid]) for pid in backend_pids(self.db_name)}
        self.start = (
            self._ticks(self.pids),
            resource.getrusage(resource.RUSAGE_CHILDREN),
            machine_cpu(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        app, children, (busy, idle) = self.start
        now_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        now_busy, now_idle = machine_cpu()
        self.app = (self._ticks(self.pids) - app) / self.tick
        # A backend that ended during the run takes its ticks with it, one that started
        # counts in full; either means a worker reconnected (flagged in the summary).
        backends = backend_pids(self.db_name)
        self.reconnected = set(backends) != set(self.backend_start)
        self.db = (
            sum(self._ticks([pid]) - self.backend_start.get(pid, 0) for pid in backends) / self.tick
        )
        self.wrk = (now_children.ru_utime + now_children.ru_stime) - (
            children.ru_utime + children.ru_stime
        )
        self.busy = (now_busy - busy) / self.tick
        self.idle = (now_idle - idle) / self.tick
        self.other = max(0.0, self.busy - self.app - self.db - self.wrk)

    @property
    def disturbed(self) -> bool:
        return self.other > self.DISTURBED_SHARE * (self.busy + self.idle)

    def summary(self, requests: int) -> str:
        per = 1000 / max(requests, 1)
        note = "  <- DISTURBED: other CPU > 5 %" if self.disturbed else ""
        if self.reconnected:
            note += "  <- a worker reconnected to PostgreSQL: backend CPU incomplete"
        return (
            f"CPU s: gunicorn workers {self.app:.1f} ({self.app * per:.2f} ms/request), "
            f"PostgreSQL backends {self.db:.1f} ({self.db * per:.2f} ms/request), "
            f"wrk {self.wrk:.1f}, other (PostgreSQL background work, other users) "
            f"{self.other:.1f}, idle {self.idle:.1f}{note}"
        )


def run_wrk(
    *,
    port: int,
    script: str,
    script_args: list[str],
    duration: int,
    threads: int,
    connections: int,
    show: bool = True,
    meter: CpuMeter | None = None,
    hidden: dict[str, str] | None = None,
) -> dict:
    """One wrk run with a bench Lua script that prints a "BENCH {json}" line. A shown
    (measured) run first waits for the machine to be quiet. `hidden` maps script
    arguments to what is printed instead (the first argument, the key, is always hidden).
    """
    duration = min(duration, MAX_DURATION)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(BENCH_DIR / script),
        f"http://127.0.0.1:{port}",
        "--",
        *script_args,
    ]
    hidden = {script_args[0]: "<key>", **(hidden or {})}
    shown = [hidden.get(part, part) for part in command]
    shown[shown.index(str(BENCH_DIR / script))] = f"bench/{script}"
    if show:
        quiet, waited = wait_quiet()
        if not quiet:
            print(f"  machine not quiet after {waited:.0f} s of waiting; running anyway")
        print("  " + busy_note())
        print("  $ " + " ".join(shown))
    if meter is None:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    else:
        with meter:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=duration + 60, check=False
            )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}")
    figures = None
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = json.loads(line[len("BENCH ") :])
        elif show:
            print("    | " + line)
    if figures is None:
        raise RuntimeError(f"wrk printed no BENCH line:\n{result.stdout}\n{result.stderr}")
    figures["rps"] = figures["requests"] / figures["seconds"]
    if meter is not None:
        figures["cpu"] = meter.summary(figures["requests"])
        figures["disturbed"] = meter.disturbed
        if show:
            print("    " + figures["cpu"])
    return figures
