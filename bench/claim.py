"""Claim throughput over HTTP: gunicorn (2 sync workers) loaded with wrk on loopback,
claims against an authenticated one-row read on the same server, then the claim query's
plan on a 1M-voucher batch after >= 100k claims.

    .venv/bin/python bench/claim.py                       # 1,000,000 vouchers, 20 s runs
    .venv/bin/python bench/claim.py --quantity 50000 --duration 5 --claimed 20000

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Steps: generate the batch through the real path (as bench/generate.py does),
pre-create members with COPY, VACUUM ANALYZE and show the claim plan on the fresh batch,
start gunicorn, warm both endpoints up, run wrk on `GET /api/v1/members/{id}` then on
`POST /api/v1/batches/{code}/claims` (a distinct member per request, per-member limit
1), and once more on claims with one connection per worker (service time without
queueing), noting where the CPU went in each run; stop gunicorn, count which indexes
served the claims (pg_stat_user_indexes), top the batch up to --claimed claimed
vouchers with one SQL UPDATE over the first available rows, VACUUM ANALYZE, and
EXPLAIN (ANALYZE, BUFFERS) the claim query exactly as the service issues it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_RATIO = 0.50
TARGET_P99_MS = 50.0
MAX_DURATION = 30
BENCH_DIR = Path(__file__).resolve().parent
BATCH_CODE = "BENCHCLAIM"


# --- set-up ----------------------------------------------------------------------------


def create_partner_key() -> str:
    from riskcontrol.services import partner_client_create, partner_key_issue

    client = partner_client_create(name="bench", scopes=["members:read", "vouchers:claim"])
    _key, plaintext = partner_key_issue(client=client, name="bench")
    return plaintext


def create_members(prefixes: dict[str, int], threads: int) -> int:
    """Members "<prefix><thread>-<n>" for n in 1..count, thread in 1..threads, by COPY."""
    from django.db import connection, transaction

    now = dt.datetime.now(dt.UTC)
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        columns = "external_id, name, pii_key_id, lifecycle_stage, points, created_at, updated_at"
        with cursor.cursor.copy(f"COPY members_member ({columns}) FROM STDIN") as copy:
            for prefix, count in prefixes.items():
                for thread in range(1, threads + 1):
                    for n in range(1, count + 1):
                        copy.write_row((f"{prefix}{thread}-{n}", "", "", "new", 0, now, now))
                        total += 1
    return total


def vacuum_analyze(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def batch_counts(batch_id: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, count(*) FROM vouchers_voucher WHERE batch_id = %s GROUP BY status",
            [batch_id],
        )
        counts = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(DISTINCT member_id) FROM vouchers_voucher"
            " WHERE batch_id = %s AND member_id IS NOT NULL",
            [batch_id],
        )
        counts["distinct_members"] = cursor.fetchone()[0]
    return counts


def unclaimed_member(batch_id: int) -> str:
    """The external id of a member holding no voucher of the batch."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT external_id FROM members_member mm WHERE NOT EXISTS ("
            " SELECT 1 FROM vouchers_voucher vv"
            " WHERE vv.member_id = mm.id AND vv.batch_id = %s)"
            " ORDER BY mm.id DESC LIMIT 1",
            [batch_id],
        )
        return cursor.fetchone()[0]


def index_scans() -> dict[str, int]:
    """Cumulative index scans on the voucher table, per index (pg_stat_user_indexes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes"
            " WHERE relname = 'vouchers_voucher'"
        )
        scans = dict(cursor.fetchall())
    connection.close()
    return scans


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
            cwd=_common.ROOT,
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


class CpuMeter:
    """Where the machine's CPU went during one wrk run, from /proc (Linux): the gunicorn
    workers, the PostgreSQL backends serving them, wrk itself (a reaped child), and
    everything else (PostgreSQL background processes, other users of the machine)."""

    def __init__(self, server_pid: int, backend_pids: list[int]) -> None:
        self.server_pid = server_pid
        self.backend_pids = backend_pids
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _stat(pid: int) -> list[str] | None:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None

    def _ticks(self, pids: list[int]) -> int:
        total = 0
        for pid in pids:
            fields = self._stat(pid)
            if fields is not None:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total

    def _workers(self) -> list[int]:
        pids = [self.server_pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = self._stat(int(entry.name))
                if fields is not None and int(fields[1]) == self.server_pid:
                    pids.append(int(entry.name))
        return pids

    def __enter__(self) -> CpuMeter:
        self.pids = self._workers()
        self.start = (
            self._ticks(self.pids),
            self._ticks(self.backend_pids),
            resource.getrusage(resource.RUSAGE_CHILDREN),
            _common.machine_cpu(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        app, db, children, (busy, idle) = self.start
        now_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        now_busy, now_idle = _common.machine_cpu()
        self.app = (self._ticks(self.pids) - app) / self.tick
        self.db = (self._ticks(self.backend_pids) - db) / self.tick
        self.wrk = (now_children.ru_utime + now_children.ru_stime) - (
            children.ru_utime + children.ru_stime
        )
        self.busy = (now_busy - busy) / self.tick
        self.idle = (now_idle - idle) / self.tick
        self.other = max(0.0, self.busy - self.app - self.db - self.wrk)

    def summary(self, requests: int) -> str:
        per = 1000 / max(requests, 1)
        return (
            f"CPU s: gunicorn workers {self.app:.1f} ({self.app * per:.2f} ms/request), "
            f"PostgreSQL backends {self.db:.1f} ({self.db * per:.2f} ms/request), "
            f"wrk {self.wrk:.1f}, other (PostgreSQL background work, other users) "
            f"{self.other:.1f}, idle {self.idle:.1f}"
        )


def backend_pids(db_name: str) -> list[int]:
    """PostgreSQL backends connected to the bench database (the workers' connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [db_name],
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


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
) -> dict:
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
    shown = [part if part not in script_args[:1] else "<key>" for part in command]
    shown[shown.index(str(BENCH_DIR / script))] = f"bench/{script}"
    if show:
        print("  " + _common.busy_note())
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
        if show:
            print("    " + figures["cpu"])
    return figures


# --- the claim query and its plan ------------------------------------------------------


def claim_sql(member_external_id: str) -> str:
    """The claim query exactly as `voucher_claim` issues it (captured from a real claim
    in a transaction that is rolled back)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from riskcontrol.actors import Actor
    from vouchers.services import voucher_claim

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        voucher_claim(
            batch_code=BATCH_CODE,
            member_external_id=member_external_id,
            actor=Actor.system("bench"),
        )
        transaction.set_rollback(True)
    for query in captured.captured_queries:
        sql = query["sql"]
        if "SKIP LOCKED" in sql and '"vouchers_voucher"' in sql.split("FROM", 1)[1][:40]:
            return sql
    raise RuntimeError("The claim query was not captured.")


def explain(sql: str) -> str:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)  # EXPLAIN ANALYZE really locks a row
    return plan


def scan_line(plan: str) -> str:
    """The plan's scan node, e.g. "Index Scan using voucher_available_idx on ..."."""
    for line in plan.splitlines():
        if "Scan" in line:
            return line.strip().lstrip("-> ").split("  (")[0]
    return "?"


def top_up(batch_id: int, needed: int) -> int:
    """Mark the first `needed` available vouchers claimed, each by a member holding none
    of this batch (what claims would have done to the index, without the HTTP)."""
    from django.db import connection, transaction

    if needed <= 0:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (
                SELECT id, row_number() OVER (ORDER BY id) AS rn FROM (
                    SELECT id FROM vouchers_voucher
                    WHERE batch_id = %(batch)s AND status = 'available'
                    ORDER BY id LIMIT %(n)s
                ) a
            ), m AS (
                SELECT id, row_number() OVER (ORDER BY id) AS rn FROM (
                    SELECT mm.id FROM members_member mm
                    WHERE NOT EXISTS (
                        SELECT 1 FROM vouchers_voucher vv
                        WHERE vv.member_id = mm.id AND vv.batch_id = %(batch)s
                    )
                    ORDER BY mm.id LIMIT %(n)s
                ) b
            )
            UPDATE vouchers_voucher t
            SET status = 'claimed', member_id = m.id, claimed_at = now(),
                channel = 'bench-top-up'
            FROM v JOIN m USING (rn)
            WHERE t.id = v.id
            """,
            {"batch": batch_id, "n": needed},
        )
        return cursor.rowcount


# --- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantity", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=20, help=f"seconds, <= {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--claimed", type=int, default=100_000, help="claimed before EXPLAIN")
    parser.add_argument("--members-per-thread", type=int, default=60_000)
    parser.add_argument("--db", default="quanyi_bench_claim")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION}")
    if args.claimed > args.quantity:
        parser.error("--claimed cannot exceed --quantity")
    warm_per_thread = 5_000

    env = _common.bench_env(args.db)
    _common.recreate_database(args.db)
    server = None
    log_path = Path(tempfile.gettempdir()) / f"{args.db}-gunicorn.log"
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Claim benchmark: {args.quantity:,} vouchers, PostgreSQL {info['postgresql']}, "
            f"{info['nproc']} cores, database {args.db}"
        )
        batch_id, seconds = _common.generate_batch(
            code=BATCH_CODE, quantity=args.quantity, activate=True, per_member_limit=1
        )
        print(
            f"  batch {BATCH_CODE}: {args.quantity:,} vouchers generated in {seconds:.1f} s "
            f"({args.quantity / seconds:,.0f} codes/s), per-member limit 1, active"
        )
        key = create_partner_key()
        members = create_members(
            {"m": args.members_per_thread, "w": warm_per_thread, "c": 10_000},
            threads=max(args.threads, 2),
        )
        print(f"  {members:,} members created (COPY); partner client with a fresh key")
        vacuum_analyze("vouchers_voucher", "members_member")
        fresh_plan = explain(claim_sql(unclaimed_member(batch_id)))
        print(f"  claim plan on the fresh batch (after VACUUM ANALYZE): {scan_line(fresh_plan)}")
        _common.close_django_connections()

        scans_before = index_scans()
        port = free_port()
        server = start_gunicorn(port, env, log_path)
        load = {"port": port, "threads": args.threads, "connections": args.connections}

        # Warm-up (not measured): both endpoints, with members kept apart ("w...").
        run_wrk(
            script="member_read.lua",
            script_args=[key, "w", str(warm_per_thread)],
            duration=args.warmup,
            show=False,
            **load,
        )
        warm_claims = run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "w"],
            duration=args.warmup,
            show=False,
            **load,
        )
        if warm_claims["max_counter"] > warm_per_thread:
            print("  warning: warm-up ran past its members (404s expected)")
        backends = backend_pids(args.db)

        print("  (b) read:")
        read = run_wrk(
            script="member_read.lua",
            script_args=[key, "m", str(args.members_per_thread)],
            duration=args.duration,
            meter=CpuMeter(server.pid, backends),
            **load,
        )
        print("  (a) claim:")
        claims = run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "m"],
            duration=args.duration,
            meter=CpuMeter(server.pid, backends),
            **load,
        )
        print("  (c) claim, one connection per worker (service time without queueing):")
        calm = run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "c"],
            duration=min(args.duration, 10),
            meter=CpuMeter(server.pid, backends),
            port=port,
            threads=2,
            connections=2,
        )
        stop_gunicorn(server)
        server = None
        if max(claims["max_counter"], calm["max_counter"]) > args.members_per_thread:
            print("  warning: a claim run ran past its members (404s expected)")

        time.sleep(1)  # the backends' statistics are flushed when they exit
        scans = {name: n - scans_before.get(name, 0) for name, n in index_scans().items()}
        counts = batch_counts(batch_id)
        claimed_http = warm_claims["expected"] + claims["expected"] + calm["expected"]
        ratio = claims["rps"] / read["rps"]
        p99_ok = claims["p99_ms"] < TARGET_P99_MS
        ratio_ok = ratio >= TARGET_RATIO

        print()
        for label, run, status in (("claims", claims, "201"), ("read", read, "200")):
            print(
                f"{label + ':':8}{run['rps']:,.0f} req/s ({run['requests']:,} in "
                f"{run['seconds']:.1f} s), p50 {run['p50_ms']:.1f} ms, "
                f"p90 {run['p90_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
                f"max {run['max_ms']:.1f} ms"
            )
            print(
                f"        {status}: {run['expected']:,}; non-{status}: {run['unexpected']:,} "
                f"{run['unexpected_sample'].strip()}; socket errors {run['socket_errors']}, "
                f"timeouts {run['timeouts']}"
            )
            print(f"        {run['cpu']}")
        print(
            f"ratio claims / read: {ratio:.2f} "
            f"(target >= {TARGET_RATIO:.2f}: {'met' if ratio_ok else 'NOT met'})"
        )
        print(
            f"claim p99: {claims['p99_ms']:.1f} ms "
            f"(target < {TARGET_P99_MS:.0f} ms: {'met' if p99_ok else 'NOT met'}); "
            f"{args.connections} connections / {claims['rps']:,.0f} req/s = "
            f"{1000 * args.connections / claims['rps']:.0f} ms of queueing per request "
            "(Little's law)"
        )
        print(
            f"claims at 2 connections: {calm['rps']:,.0f} req/s, p50 {calm['p50_ms']:.1f} ms, "
            f"p99 {calm['p99_ms']:.1f} ms; 201: {calm['expected']:,}, "
            f"non-201: {calm['unexpected']:,}"
        )
        # wrk stops counting at the deadline: the claims in flight then may have
        # committed without being counted (at most one per connection and run).
        claimed_db = counts.get("claimed", 0)
        in_flight = claimed_db - claimed_http
        consistent = (
            0 <= in_flight <= 2 * args.connections + 2 and counts["distinct_members"] == claimed_db
        )
        print(
            f"database: {claimed_db:,} claimed (HTTP 201s counted by wrk incl. warm-up: "
            f"{claimed_http:,}; {in_flight} in flight at the deadlines), "
            f"{counts['distinct_members']:,} distinct members, "
            f"{counts.get('available', 0):,} available: "
            + ("consistent" if consistent else "INCONSISTENT")
        )
        print(
            f"index scans on vouchers_voucher while serving {claimed_db:,} claims: "
            + ", ".join(f"{name} {n:,}" for name, n in sorted(scans.items()) if n)
        )
        print(
            "  (each claim scans the primary key twice besides the pick: the conditional "
            "UPDATE and the event's foreign-key check; a pick served by voucher_available_idx "
            "adds one scan of it, a pick served by the primary key a third pkey scan)"
        )

        added = top_up(batch_id, args.claimed - counts.get("claimed", 0))
        vacuum_analyze("vouchers_voucher")
        counts = batch_counts(batch_id)
        print()
        print(
            f"after top-up (+{added:,} by SQL UPDATE) and VACUUM ANALYZE: "
            f"{counts.get('claimed', 0):,} claimed, {counts.get('available', 0):,} available"
        )
        sql = claim_sql(unclaimed_member(batch_id))
        print("claim query (captured from voucher_claim):")
        print("  " + sql)
        plan = explain(sql)
        print("EXPLAIN (ANALYZE, BUFFERS):")
        for line in plan.splitlines():
            print("  " + line)
        uses_index = "voucher_available_idx" in plan
        print(f"plan uses voucher_available_idx: {'yes' if uses_index else 'NO'}")
        valid = claims["expected"] > 0 and not any(
            run["unexpected"] for run in (read, claims, calm)
        )
        if not valid:
            print(f"WARNING: unexpected statuses in the measured runs; see {log_path}")
        return 0 if valid and consistent and uses_index else 1
    finally:
        stop_gunicorn(server)
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
