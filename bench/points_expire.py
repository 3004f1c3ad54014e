"""Points expiry of 1,000,000 lots (issue 12, benchmark 9b): `points_expire` (the service
behind `manage.py points_expire` and the hourly beat task), set-based and chunked, on
PostgreSQL. Target: <= 60 s.

    .venv/bin/python bench/points_expire.py                    # 1,000,000 expired lots
    .venv/bin/python bench/points_expire.py --lots 50000

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Set-up by COPY: members with --lots-per-member expired lots each (plus one lot
per member that is still valid, which must be left alone), `Member.points` set to the
sum of its lots, VACUUM ANALYZE. Then one timed run of `points_expire` (default chunk),
a check that the ledger holds (every member's points == the sum of its entries == its
open lots' remaining points; no expired lot left open), and a second run that must find
nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_SECONDS = 60.0


def create_lots(*, lots: int, per_member: int) -> tuple[int, int]:
    """Members and their lots by COPY; returns (members, lots written incl. valid ones)."""
    from django.db import connection, transaction

    members = -(-lots // per_member)
    _common.create_members({"x": members}, threads=1)
    now = dt.datetime.now(dt.UTC)
    earned = now - dt.timedelta(days=400)
    expired = now - dt.timedelta(days=1)
    valid = now + dt.timedelta(days=300)
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM members_member ORDER BY id")
        member_ids = [row[0] for row in cursor.fetchall()]
        columns = (
            "member_id, kind, amount, balance_after, reason, ref, remaining, shortfall,"
            " activates_at, expires_at, actor_kind, actor_label, context, created_at"
        )
        left = lots
        with cursor.cursor.copy(f"COPY members_pointsentry ({columns}) FROM STDIN") as copy:
            for member_id in member_ids:
                for _ in range(min(per_member, left)):
                    copy.write_row(
                        (
                            member_id,
                            "earn",
                            10,
                            0,
                            "bench",
                            "",
                            10,
                            0,
                            earned,
                            expired,
                            "system",
                            "bench",
                            "{}",
                            earned,
                        )
                    )
                    left -= 1
                    written += 1
                copy.write_row(
                    (
                        member_id,
                        "earn",
                        7,
                        0,
                        "bench",
                        "",
                        7,
                        0,
                        earned,
                        valid,
                        "system",
                        "bench",
                        "{}",
                        earned,
                    )
                )
                written += 1
        cursor.execute(
            """
            UPDATE members_member m SET points = l.total
            FROM (SELECT member_id, sum(amount) AS total FROM members_pointsentry
                  GROUP BY member_id) l
            WHERE m.id = l.member_id
            """
        )
    return len(member_ids), written


def ledger_check(now: dt.datetime) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
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
        cursor.execute(
            "SELECT count(*) FROM members_pointsentry WHERE remaining > 0 AND expires_at <= %s",
            [now],
        )
        still_open = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM members_pointsentry WHERE kind = 'expire'")
        expire_entries = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(sum(points), 0) FROM members_member")
        points = cursor.fetchone()[0]
    return {
        "mismatched": mismatched,
        "still_open": still_open,
        "expire_entries": expire_entries,
        "points": points,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=1_000_000, help="expired lots")
    parser.add_argument("--lots-per-member", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=None, help="lots per transaction")
    parser.add_argument("--db", default="quanyi_bench_points_expire")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    _common.bench_env(args.db)
    _common.recreate_database(args.db)
    try:
        _common.django_setup()
        from django.utils import timezone

        from members.services import points_expire

        info = _common.server_info()
        print(
            f"Points expiry benchmark: {args.lots:,} expired lots, PostgreSQL "
            f"{info['postgresql']}, {info['nproc']} cores, database {args.db}"
        )
        started = time.perf_counter()
        members, written = create_lots(lots=args.lots, per_member=args.lots_per_member)
        _common.vacuum_analyze("members_member", "members_pointsentry")
        print(
            f"  {members:,} members, {written:,} lots ({args.lots:,} expired, {members:,} "
            f"still valid) written by COPY in {time.perf_counter() - started:.1f} s"
        )
        options = {} if args.chunk is None else {"chunk": args.chunk}
        now = timezone.now()
        print("  " + _common.busy_note())
        started = time.perf_counter()
        totals = points_expire(now=now, **options)
        seconds = time.perf_counter() - started
        print(
            f"points_expire: {totals['points']:,} points of {totals['members']:,} members in "
            f"{totals['chunks']:,} chunks: {seconds:.1f} s "
            f"({args.lots / seconds:,.0f} lots/s; target <= {TARGET_SECONDS:.0f} s: "
            f"{'met' if seconds <= TARGET_SECONDS else 'NOT met'})"
        )
        check = ledger_check(now)
        started = time.perf_counter()
        again = points_expire(now=now, **options)
        rerun = time.perf_counter() - started
        expected_points = args.lots * 10
        consistent = (
            check["mismatched"] == 0
            and check["still_open"] == 0
            and totals["points"] == expected_points
            and check["points"] == members * 7
            and again["members"] == 0
        )
        print(
            f"database: {check['expire_entries']:,} expire entries (one per member and "
            f"chunk), {check['still_open']} expired lots still open, members whose points "
            f"differ from their ledger: {check['mismatched']}, {check['points']:,} points "
            f"left (the valid lots: {members * 7:,}); second run: {again['members']} "
            f"members in {rerun:.2f} s: " + ("consistent" if consistent else "INCONSISTENT")
        )
        return 0 if consistent else 1
    finally:
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
