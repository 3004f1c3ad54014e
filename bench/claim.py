"""Claim throughput over HTTP: gunicorn (2 sync workers) loaded with wrk on loopback,
claims against an authenticated one-row read on the same server, then the claim query's
plan on a 1M-voucher batch after >= 100k claims.

    .venv/bin/python bench/claim.py                       # 1,000,000 vouchers, 20 s runs
    .venv/bin/python bench/claim.py --quantity 50000 --duration 5 --claimed 20000

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Steps: generate the batch through the real path (as bench/generate.py does),
pre-create members with COPY (and VACUUM ANALYZE the members: the bench wrote them, not
the product), show the claim plan on the fresh batch exactly as generation left it (no
ANALYZE of the vouchers here: generation ends by analyzing what it wrote, issue 9),
count the SQL statements of one read and one claim (rolled back), start gunicorn, warm
both endpoints up, run wrk on `GET /api/v1/members/{id}` then on
`POST /api/v1/batches/{code}/claims` (a distinct member per request, per-member limit
1), and once more on claims with one connection per worker (service time without
queueing), noting where the CPU went in each run; stop gunicorn, count which indexes
served the claims (pg_stat_user_indexes), top the batch up to --claimed claimed
vouchers with one SQL UPDATE over the first available rows, VACUUM ANALYZE, and
EXPLAIN (ANALYZE, BUFFERS) the claim query exactly as the service issues it (captured
from a real `voucher_claim` in a rolled-back transaction: on PostgreSQL the pick-and-mark
`UPDATE ... WHERE id = (SELECT ... ORDER BY sequence LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING ...`), which must use `voucher_available_idx`. Each measured wrk run first
waits for the machine to be quiet (bench/_common.py `wait_quiet`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_RATIO = 0.50
TARGET_P99_MS = 50.0
MAX_DURATION = _common.MAX_DURATION
BATCH_CODE = "BENCHCLAIM"


# --- set-up ----------------------------------------------------------------------------


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


# --- the claim query and its plan ------------------------------------------------------


def claim_sql(member_external_id: str) -> str:
    """The claim query exactly as `voucher_claim` issues it (captured from a real claim
    in a transaction that is rolled back): on PostgreSQL the pick-and-mark
    `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING ...`."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from riskcontrol.core.actors import Actor
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
        if "SKIP LOCKED" in sql and "vouchers_voucher" in sql:
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
    """Mark the first `needed` available vouchers (by sequence, the claims' order)
    claimed, each by a member holding none of this batch (what claims would have done to
    the index, without the HTTP)."""
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
                    ORDER BY sequence LIMIT %(n)s
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
        key = _common.create_partner_key(["members:read", "vouchers:claim"])
        members = _common.create_members(
            {"m": args.members_per_thread, "w": warm_per_thread, "c": 10_000},
            threads=max(args.threads, 2),
        )
        print(f"  {members:,} members created (COPY); partner client with a fresh key")
        _common.vacuum_analyze("members_member")
        fresh_plan = explain(claim_sql(unclaimed_member(batch_id)))
        print(
            "  claim plan on the fresh batch (straight after generation, no manual ANALYZE): "
            f"{scan_line(fresh_plan)}"
        )
        for label, statements in (
            ("read", _common.statements_per_request("GET", "/api/v1/members/m1-1", key)),
            (
                "claim",
                _common.statements_per_request(
                    "POST",
                    f"/api/v1/batches/{BATCH_CODE}/claims",
                    key,
                    {"member": unclaimed_member(batch_id)},
                ),
            ),
        ):
            print(
                f"  SQL statements per {label} request ({statements[0]}, rolled back): "
                f"{len(statements) - 1}: "
                + "; ".join(_common.describe_statement(sql) for sql in statements[1:])
            )
        _common.close_django_connections()

        scans_before = index_scans()
        port = _common.free_port()
        server = _common.start_gunicorn(port, env, log_path)
        load = {"port": port, "threads": args.threads, "connections": args.connections}

        # Warm-up (not measured): both endpoints, with members kept apart ("w...").
        _common.run_wrk(
            script="member_read.lua",
            script_args=[key, "w", str(warm_per_thread)],
            duration=args.warmup,
            show=False,
            **load,
        )
        warm_claims = _common.run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "w"],
            duration=args.warmup,
            show=False,
            **load,
        )
        if warm_claims["max_counter"] > warm_per_thread:
            print("  warning: warm-up ran past its members (404s expected)")

        print("  (b) read:")
        read = _common.run_wrk(
            script="member_read.lua",
            script_args=[key, "m", str(args.members_per_thread)],
            duration=args.duration,
            meter=_common.CpuMeter(server.pid, args.db),
            **load,
        )
        print("  (a) claim:")
        claims = _common.run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "m"],
            duration=args.duration,
            meter=_common.CpuMeter(server.pid, args.db),
            **load,
        )
        print("  (c) claim, one connection per worker (service time without queueing):")
        calm = _common.run_wrk(
            script="claim.lua",
            script_args=[key, BATCH_CODE, "c"],
            duration=min(args.duration, 10),
            meter=_common.CpuMeter(server.pid, args.db),
            port=port,
            threads=2,
            connections=2,
        )
        _common.stop_gunicorn(server)
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
            "  (per claim: the pick, one scan of voucher_available_idx when the planner uses "
            "it; the UPDATE's id lookup and the event's foreign-key check, two primary-key "
            "scans; the member's held count, one scan of a member index)"
        )
        picks = scans.get("voucher_available_idx", 0)
        print(
            f"picks served by voucher_available_idx: {picks:,} scans for {claimed_db:,} claims "
            f"({'every claim' if picks >= claimed_db else 'NOT every claim'})"
        )

        added = top_up(batch_id, args.claimed - counts.get("claimed", 0))
        _common.vacuum_analyze("vouchers_voucher")
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
        if any(run["disturbed"] for run in (read, claims, calm)):
            print("WARNING: a measured run was disturbed by other work (see 'other' CPU)")
        return 0 if valid and consistent and uses_index else 1
    finally:
        _common.stop_gunicorn(server)
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
