"""Member event ingestion over HTTP (issue 12, benchmark 9a): `purchase` events with two
earning rules through gunicorn (2 sync workers) loaded with wrk on loopback, against the
authenticated one-row member read on the same server. Target: events / read >= 0.50.

    .venv/bin/python bench/events.py                          # 60,000 members, 20 s runs
    .venv/bin/python bench/events.py --members-per-thread 2000 --duration 5

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Set-up: tiers (normal 0 / silver 1,000 / gold 5,000) and two earning rules for
`purchase` (1 point and 1 growth per yuan, pending 7 days, valid 12 months, x1.5 for
gold; and a 10-point bonus per purchase with a daily cap of 50), members by COPY, a
partner client with `members:read` and `members:events`; every member starts at the
lowest tier. Counts the SQL statements of
one read and one event (rolled back), starts gunicorn, warms both endpoints up, runs wrk
on `GET /api/v1/members/{id}` then on `POST /api/v1/members/{id}/events` (a fresh
event id and order per request, members cycling), then checks the database: one event
per 201, and every member's points equal to its ledger. Each measured wrk run first
waits for the machine to be quiet (bench/_common.py `wait_quiet`; `--no-wait` skips
that, for a quick try on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_RATIO = 0.50
MAX_DURATION = _common.MAX_DURATION


def program() -> None:
    from decimal import Decimal

    from members.models import EarningRule, Tier, TierPolicy

    for rank, (code, name, threshold) in enumerate(
        [("normal", "普通会员", 0), ("silver", "银卡会员", 1000), ("gold", "金卡会员", 5000)],
        start=1,
    ):
        Tier.objects.create(code=code, name=name, rank=rank, threshold=threshold)
    EarningRule.objects.create(
        code="purchase",
        event="purchase",
        points_per_yuan=Decimal("1"),
        growth_per_yuan=Decimal("1"),
        tier_multipliers={"gold": "1.5"},
        points_valid_months=12,
        points_pending_days=7,
    )
    EarningRule.objects.create(code="purchase-bonus", event="purchase", points=10, daily_cap=50)
    TierPolicy.current()


def start_at_lowest_tier() -> None:
    """Members of a running program hold a tier: all start at the lowest one (so an event
    upgrades only when its growth reaches silver, as in production)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_member SET tier_id = (SELECT id FROM members_tier WHERE code ="
            " 'normal'), tier_since = now()"
        )


def ledger_check() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_memberevent")
        events = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM members_member m
            LEFT JOIN (
                SELECT member_id, sum(amount) AS total, sum(remaining) AS open
                FROM members_pointsentry GROUP BY member_id
            ) l ON l.member_id = m.id
            WHERE m.points <> coalesce(l.total, 0) OR m.points <> coalesce(l.open, 0)
            """
        )
        mismatched = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(sum(points), 0) FROM members_member")
        points = cursor.fetchone()[0]
    return {"events": events, "mismatched": mismatched, "points": points}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help=f"seconds, <= {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--members-per-thread", type=int, default=60_000)
    parser.add_argument("--db", default="quanyi_bench_events")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--no-wait", action="store_true", help="Do not wait for a quiet machine (quick try)."
    )
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION}")
    if args.no_wait:
        _common.wait_quiet = lambda **_kwargs: (True, 0.0)
    warm_per_thread = min(5_000, args.members_per_thread)

    env = _common.bench_env(args.db)
    if os.environ.get("BENCH_CACHE_URL"):  # another Redis than the default one
        env["CACHE_URL"] = os.environ["CACHE_URL"] = os.environ["BENCH_CACHE_URL"]
    _common.recreate_database(args.db)
    server = None
    log_path = Path(tempfile.gettempdir()) / f"{args.db}-gunicorn.log"
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Event benchmark: PostgreSQL {info['postgresql']}, {info['nproc']} cores, "
            f"database {args.db}"
        )
        program()
        key = _common.create_partner_key(["members:read", "members:events"])
        members = _common.create_members(
            {"m": args.members_per_thread, "w": warm_per_thread},
            threads=max(args.threads, 2),
        )
        print(
            f"  {members:,} members created (COPY); 3 tiers; 2 earning rules for purchase; "
            "partner client with a fresh key"
        )
        start_at_lowest_tier()
        _common.vacuum_analyze("members_member")
        body = {"event_id": "probe-1", "kind": "purchase", "amount": "128.50", "order_ref": "P1"}
        for label, statements in (
            ("read", _common.statements_per_request("GET", "/api/v1/members/m1-1", key)),
            (
                "event",
                _common.statements_per_request("POST", "/api/v1/members/m1-1/events", key, body),
            ),
        ):
            print(
                f"  SQL statements per {label} request ({statements[0]}, rolled back): "
                f"{len(statements) - 1}: "
                + "; ".join(_common.describe_statement(sql) for sql in statements[1:])
            )
        _common.close_django_connections()

        port = _common.free_port()
        server = _common.start_gunicorn(port, env, log_path)
        load = {"port": port, "threads": args.threads, "connections": args.connections}
        members_arg = str(warm_per_thread)
        _common.run_wrk(
            script="member_read.lua",
            script_args=[key, "w", members_arg],
            duration=args.warmup,
            show=False,
            **load,
        )
        warm_events = _common.run_wrk(
            script="events.lua",
            script_args=[key, "w", members_arg],
            duration=args.warmup,
            show=False,
            **load,
        )
        print("  (b) read:")
        read = _common.run_wrk(
            script="member_read.lua",
            script_args=[key, "m", str(args.members_per_thread)],
            duration=args.duration,
            meter=_common.CpuMeter(server.pid, args.db),
            **load,
        )
        print("  (a) purchase events:")
        events = _common.run_wrk(
            script="events.lua",
            script_args=[key, "m", str(args.members_per_thread)],
            duration=args.duration,
            meter=_common.CpuMeter(server.pid, args.db),
            **load,
        )
        _common.stop_gunicorn(server)
        server = None
        time.sleep(1)

        ratio = events["rps"] / read["rps"]
        ratio_ok = ratio >= TARGET_RATIO
        print()
        for label, run, status in (("events:", events, "201"), ("read:", read, "200")):
            print(
                f"{label:8}{run['rps']:,.0f} req/s ({run['requests']:,} in "
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
            f"ratio events / read: {ratio:.2f} "
            f"(target >= {TARGET_RATIO:.2f}: {'met' if ratio_ok else 'NOT met'})"
        )
        check = ledger_check()
        counted = warm_events["expected"] + events["expected"]
        in_flight = check["events"] - counted
        consistent = 0 <= in_flight <= 2 * args.connections + 2 and check["mismatched"] == 0
        print(
            f"database: {check['events']:,} events (HTTP 201s counted by wrk incl. warm-up: "
            f"{counted:,}; {in_flight} in flight at the deadlines), {check['points']:,} points "
            f"held, members whose points differ from their ledger: {check['mismatched']}: "
            + ("consistent" if consistent else "INCONSISTENT")
        )
        valid = events["expected"] > 0 and not any(run["unexpected"] for run in (read, events))
        if not valid:
            print(f"WARNING: unexpected statuses in the measured runs; see {log_path}")
        if any(run["disturbed"] for run in (read, events)):
            print("WARNING: a measured run was disturbed by other work (see 'other' CPU)")
        return 0 if valid and consistent else 1
    finally:
        _common.stop_gunicorn(server)
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
