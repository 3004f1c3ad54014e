"""Segment count on 1,000,000 members (issue 12, benchmark 9(c); target <= 1 s).

    .venv/bin/python bench/segment_count.py                  # 1,000,000 members
    .venv/bin/python bench/segment_count.py --members 50000  # a quick look

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Members are loaded with COPY, their events with INSERT … SELECT (not timed):
4 tiers (50/30/15/5 %), 4 lifecycle stages, 31 provinces (Guangdong, Shanghai, Beijing …
weighted), 40 % of members with 1-6 purchases spread over the last 180 days (5 % of them
refunded), every member with a check-in or two in the last 60 days. Then VACUUM ANALYZE, as autovacuum would have done.

The segment is a realistic one: gold tier, loyal, at least one purchase in the last 30
days, in Shanghai (310000). `segment_count` (the console's live count: validation plus
one COUNT query) is timed --runs times; the median is the figure, against the 1 s target.
--explain prints the plan of the count query.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_SECONDS = 1.0
PROVINCES = [
    ("440000", 12),
    ("310000", 8),
    ("110000", 7),
    ("330000", 7),
    ("320000", 7),
    ("370000", 6),
    ("510000", 5),
    ("420000", 4),
    ("410000", 4),
    ("350000", 4),
    ("430000", 3),
    ("130000", 3),
    ("340000", 3),
    ("500000", 3),
    ("610000", 3),
    ("210000", 2),
    ("120000", 2),
    ("360000", 2),
    ("530000", 2),
    ("450000", 2),
    ("140000", 1),
    ("220000", 1),
    ("230000", 1),
    ("520000", 1),
    ("620000", 1),
    ("150000", 1),
    ("460000", 1),
    ("650000", 1),
    ("640000", 1),
    ("630000", 1),
    ("540000", 1),
]
TIERS = [("normal", 0, 50), ("silver", 1000, 30), ("gold", 5000, 15), ("black_gold", 20000, 5)]
STAGES = [("new", 20), ("growing", 30), ("loyal", 25), ("dormant", 25)]
CONDITIONS = {
    "tiers": ["gold"],
    "stages": ["loyal"],
    "purchases": {"days": 30, "count_min": 1},
    "regions": ["310000"],
}


def _weighted(pairs):
    values = [value for value, *_rest in pairs]
    weights = [rest[-1] for _value, *rest in pairs]
    return values, weights


def load(members: int, *, seed: int = 12) -> tuple[int, int]:
    """COPY `members` members, then generate their events; returns (members, events)."""
    from django.db import connection

    from members.models import Tier

    rng = random.Random(seed)
    tier_ids = {
        code: Tier.objects.update_or_create(
            code=code, defaults={"name": code, "rank": (i + 1) * 10, "threshold": threshold}
        )[0].pk
        for i, (code, threshold, _share) in enumerate(TIERS)
    }
    tier_values, tier_weights = _weighted([(tier_ids[c], w) for c, _t, w in TIERS])
    stage_values, stage_weights = _weighted(STAGES)
    region_values, region_weights = _weighted(PROVINCES)
    now = dt.datetime.now(dt.UTC)
    raw = connection.connection  # psycopg 3
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY members_member (external_id, name, pii_key_id, birthday, tier_id, "
            "lifecycle_stage, points, growth_value, region, last_event_at, created_at, "
            "updated_at) FROM STDIN"
        ) as copy,
    ):
        tiers = rng.choices(tier_values, tier_weights, k=members)
        stages = rng.choices(stage_values, stage_weights, k=members)
        regions = rng.choices(region_values, region_weights, k=members)
        for n in range(members):
            created = now - dt.timedelta(days=rng.randint(1, 1000))
            copy.write_row(
                (
                    f"B{n:08d}",
                    "",
                    "",
                    dt.date(1960 + n % 45, 1 + n % 12, 1 + n % 28),
                    tiers[n],
                    stages[n],
                    rng.randint(0, 20000),
                    rng.randint(0, 30000),
                    regions[n],
                    now - dt.timedelta(hours=rng.randint(1, 24 * 200)),
                    created,
                    created,
                )
            )
    raw.commit()
    # Events are generated in the database (set-based; far faster than rows from Python).
    events_sql = """
        INSERT INTO members_memberevent (member_id, event_id, kind, occurred_at, amount,
            order_ref, payload, effects, actor_kind, actor_label, context, created_at)
        SELECT m.id, left(kind, 1) || m.id || '-' || g, kind, at, amount, ref,
               '{}', '{}', 'system', 'bench', '{}', at
        FROM members_member m
        CROSS JOIN LATERAL (
            SELECT g, 'purchase' AS kind,
                   now() - random() * interval '180 days' + (m.id * 0) * interval '1 s' AS at,
                   (5 + floor(random() * 795))::numeric(12, 2) AS amount,
                   'O' || m.id || '-' || g AS ref
            FROM generate_series(1, CASE WHEN random() < 0.4 + m.id * 0
                                         THEN 1 + floor(random() * 6)::int ELSE 0 END) g
            UNION ALL
            SELECT g, 'check_in', now() - random() * interval '60 days' + (m.id * 0) * interval '1 s',
                   NULL, ''
            FROM generate_series(1, 1 + floor(random() * 2 + m.id * 0)::int) g
        ) e
    """
    with raw.cursor() as cursor:
        cursor.execute(events_sql)
        cursor.execute(
            """
            INSERT INTO members_memberevent (member_id, event_id, kind, occurred_at, amount,
                order_ref, payload, effects, actor_kind, actor_label, context, created_at)
            SELECT member_id, 'r' || id, 'refund', occurred_at + interval '1 day', 5.00,
                   order_ref, '{}', '{}', 'system', 'bench', '{}', occurred_at
            FROM members_memberevent WHERE kind = 'purchase' AND random() < 0.05
            """
        )
        cursor.execute("SELECT count(*) FROM members_memberevent")
        events = cursor.fetchone()[0]
    raw.commit()
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE members_member")
        cursor.execute("VACUUM ANALYZE members_memberevent")
        cursor.execute("VACUUM ANALYZE members_member_tags")
    return members, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", default="quanyi_bench_segments")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--explain", action="store_true", help="Print the count's plan.")
    args = parser.parse_args()

    cache_url = os.environ.get("CACHE_URL")
    _common.bench_env(args.db)
    if cache_url:  # a shared machine may give this run its own Redis database
        os.environ["CACHE_URL"] = cache_url
    _common.recreate_database(args.db)
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Segment count benchmark: {args.members:,} members, PostgreSQL "
            f"{info['postgresql']}, {info['nproc']} cores, database {args.db}"
        )
        started = time.perf_counter()
        members, events = load(args.members)
        print(
            f"  loaded {members:,} members (COPY) and {events:,} events (INSERT … SELECT) in "
            f"{time.perf_counter() - started:.1f} s (not timed)"
        )

        from django.db import connection

        from members.models import Segment
        from members.services import segment_count, segment_members

        segment = Segment.objects.create(code="bench", name="bench", conditions=CONDITIONS)
        if args.explain:
            sql, params = segment_members(segment).query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) s", params)
                print("\n".join("    " + row[0] for row in cursor.fetchall()))
        print("  " + _common.busy_note())
        timings, count = [], None
        for _run in range(args.runs):
            started = time.perf_counter()
            count = segment_count(segment)
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings)
        verdict = "met" if median <= TARGET_SECONDS else "NOT met"
        print()
        print(f"segment: {CONDITIONS}")
        print(f"members in the segment: {count:,}")
        print(
            f"count time: median {median * 1000:.0f} ms, best {min(timings) * 1000:.0f} ms, "
            f"worst {max(timings) * 1000:.0f} ms over {args.runs} runs "
            f"(target <= {TARGET_SECONDS:.0f} s: {verdict})"
        )
        return 0
    finally:
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    raise SystemExit(main())
