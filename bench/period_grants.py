"""`each_period` tier benefit grants (issue 13, item 3): `period_grants`, the service
behind `manage.py benefits_period_grant` and the nightly beat task, on PostgreSQL.
Target: 100,000 gold members "in minutes".

    .venv/bin/python bench/period_grants.py                     # 20,000 gold members
    .venv/bin/python bench/period_grants.py --members 100000
    .venv/bin/python bench/period_grants.py --workers 2     # 2 processes, one shard each

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Set-up: --members gold members and as many normal ones (which the anti-join
must leave out) by COPY; a coupon benefit on a generated batch of --members + 1,000
vouchers (no per-member limit); one matrix row "gold, COFFEE, 1 a month, each_period".
Then: the dry run (the anti-join count alone), one timed run (every grant through
`benefit_grant`, one short transaction each), a check (one fulfilled grant and one
distinct voucher per gold member, none for the others) and a second run that must
grant nothing. Prints members/s and the extrapolation to 100,000. With --workers N the
timed run is N processes side by side, each `period_grants(shard=(i, N))` — what the
beat task does with BENEFITS_PERIOD_SHARDS=N and N Celery worker processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_MEMBERS = 100_000


def set_up(*, members: int) -> None:
    from django.db import connection

    from entitlements.models import Benefit, BenefitSource, TierBenefit
    from members.models import Tier

    normal = Tier.objects.create(code="normal", name="普通会员", rank=10, threshold=0)
    gold = Tier.objects.create(code="gold", name="金卡会员", rank=30, threshold=5000)
    _common.create_members({"g": members, "n": members}, threads=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_member SET tier_id = CASE WHEN external_id LIKE 'g%%'"
            " THEN %s ELSE %s END",
            [gold.pk, normal.pk],
        )
    batch_id, seconds = _common.generate_batch(
        code="COFFEE-A", quantity=members + 1000, activate=True, per_member_limit=None
    )
    print(f"  batch COFFEE-A: {members + 1000:,} vouchers generated in {seconds:.1f} s")
    coffee = Benefit.objects.create(code="COFFEE", name="咖啡兑换券", kind="coupon")
    BenefitSource.objects.create(benefit=coffee, batch_id=batch_id)
    TierBenefit.objects.create(
        tier=gold, benefit=coffee, quota=1, period="month", mode="each_period"
    )
    _common.vacuum_analyze("members_member", "vouchers_voucher", "entitlements_grant")


def check(members: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE g.status = 'fulfilled'),
                   count(*) FILTER (WHERE g.status <> 'fulfilled'),
                   count(DISTINCT g.member_id),
                   count(*) FILTER (WHERE t.code <> 'gold')
            FROM entitlements_grant g
            JOIN members_member m ON m.id = g.member_id
            JOIN members_tier t ON t.id = m.tier_id
            """
        )
        fulfilled, other, distinct_members, not_gold = cursor.fetchone()
        cursor.execute("SELECT count(*), count(DISTINCT voucher_id) FROM entitlements_grantvoucher")
        vouchers, distinct_vouchers = cursor.fetchone()
    return {
        "fulfilled": fulfilled,
        "other": other,
        "members": distinct_members,
        "not_gold": not_gold,
        "vouchers": vouchers,
        "distinct_vouchers": distinct_vouchers,
    }


def _shard_run(index: int, count: int, now_iso: str, chunk: int) -> tuple[int, int, int]:
    """One worker process's part: (granted, existing, failed)."""
    import datetime as dt

    from entitlements.services.periodic import period_grants

    try:
        [part] = period_grants(
            now=dt.datetime.fromisoformat(now_iso), chunk=chunk, shard=(index, count)
        )
        report = part.report
        return report.granted, report.existing, sum(report.failed.values())
    finally:
        _common.close_django_connections()


def timed_run(*, now, chunk: int, workers: int, progress):
    """The timed run: in this process, or in `workers` forked processes (one shard
    each). Returns (granted, summary)."""
    from entitlements.services.periodic import period_grants

    if workers <= 1:
        [part] = period_grants(now=now, chunk=chunk, progress=progress)
        return part.report.granted, part.report.summary()
    import multiprocessing

    _common.close_django_connections()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        results = pool.starmap(
            _shard_run, [(index, workers, now.isoformat(), chunk) for index in range(workers)]
        )
    granted = sum(r[0] for r in results)
    return granted, f"granted {granted}, already granted {sum(r[1] for r in results)}, " + (
        f"failed {sum(r[2] for r in results)} ({workers} processes)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000, help="gold members")
    parser.add_argument("--chunk", type=int, default=1000, help="members per query")
    parser.add_argument("--workers", type=int, default=1, help="processes, one shard each")
    parser.add_argument("--db", default="quanyi_bench_period_grants")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    _common.bench_env(args.db)
    _common.recreate_database(args.db)
    try:
        _common.django_setup()
        from django.utils import timezone

        from entitlements.services.periodic import period_grants

        info = _common.server_info()
        print(
            f"Period grants benchmark: {args.members:,} gold members (and as many normal "
            f"ones), PostgreSQL {info['postgresql']}, {info['nproc']} cores, database {args.db}"
        )
        started = time.perf_counter()
        set_up(members=args.members)
        print(f"  set-up: {time.perf_counter() - started:.1f} s")
        now = timezone.now()

        started = time.perf_counter()
        [dry] = period_grants(now=now, dry_run=True)
        print(
            f"dry run (the anti-join count): {dry.report.would_grant:,} members lacking "
            f"the grant in {time.perf_counter() - started:.2f} s"
        )
        print("  " + _common.busy_note())
        last = [time.perf_counter()]
        started = last[0]

        def progress(part) -> None:
            if time.perf_counter() - last[0] >= 10:
                last[0] = time.perf_counter()
                done = part.report.granted
                print(f"    {done:,} granted, {done / (last[0] - started):,.0f}/s", flush=True)

        granted, summary = timed_run(
            now=now, chunk=args.chunk, workers=args.workers, progress=progress
        )
        seconds = time.perf_counter() - started
        rate = granted / seconds
        print(
            f"period_grants: {summary} in {seconds:.1f} s: {rate:,.0f} "
            f"members/s; {TARGET_MEMBERS:,} members would take "
            f"{TARGET_MEMBERS / rate / 60:.1f} min"
        )
        started = time.perf_counter()
        [again] = period_grants(now=now, chunk=args.chunk)
        rerun = time.perf_counter() - started
        figures = check(args.members)
        consistent = (
            figures["fulfilled"] == figures["members"] == args.members
            and figures["other"] == figures["not_gold"] == 0
            and figures["vouchers"] == figures["distinct_vouchers"] == args.members
            and again.report.granted == 0
        )
        print(
            f"database: {figures['fulfilled']:,} fulfilled grants for {figures['members']:,} "
            f"members ({figures['not_gold']} outside gold, {figures['other']} not fulfilled), "
            f"{figures['distinct_vouchers']:,} distinct vouchers; second run: "
            f"{again.report.summary()} in {rerun:.2f} s: "
            + ("consistent" if consistent else "INCONSISTENT")
        )
        return 0 if consistent else 1
    finally:
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
