"""Benefits over HTTP (issue 13, benchmark 6): (a) a member's entitlements page
(`GET /api/v1/members/{id}/entitlements`, 50 vouchers held, 20 tier matrix rows, 2
privileges) and (b) coupon grants through the partner route (`POST
/api/v1/members/{id}/grants`, `via: api`), through gunicorn (2 sync workers) loaded with
wrk on loopback, against the authenticated one-row member read on the same server.
Targets: (a) p99 < 20 ms at 2 connections and entitlements / read >= 0.50;
(b) grants / read >= 0.40.

    .venv/bin/python bench/entitlements.py                  # 500 members per thread, 20 s
    .venv/bin/python bench/entitlements.py --members-per-thread 50 --duration 3 --no-wait

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Set-up: a gold tier; 20 coupon benefits, each with its own generated batch
(no per-member limit) and a gold matrix row (claimable, 5 a month); 2 privileges (30
days); members by COPY, all gold. Each member of the read sets holds 50 vouchers of
those batches, each granted (a `Grant` and its `GrantVoucher`, quota counters of the
month), and both privileges — written in bulk by SQL and the ORM's bulk_create, as the
grant service would have left them, because granting 50,000 vouchers one by one is not
what is measured. For (b): a coupon benefit on one 100,000-voucher batch (no per-member
limit, no budget), granted to a different member per request with a different
Idempotency-Key. Counts the SQL statements of one read, one entitlements read and one
grant (rolled back), starts gunicorn, warms the endpoints up, runs wrk on the read and
the entitlements at --connections (32), the grants at --connections, then the read and
the entitlements at 2 connections; checks the database (one fulfilled grant and one
claimed voucher per 201). Each measured wrk run first waits for the machine to be quiet
(bench/_common.py `wait_quiet`; `--no-wait` skips that).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_P99_MS = 20.0
TARGET_READ_RATIO = 0.50
TARGET_GRANT_RATIO = 0.40
MAX_DURATION = _common.MAX_DURATION
BENEFITS = 20
HOLDINGS = 50
GRANT_BENEFIT = "BENCH-GRANT"
GRANT_STOCK = 100_000


def catalog(members: int) -> tuple[list[int], list[int]]:
    """20 coupon benefits (each on its own generated batch, a gold matrix row) and 2
    privileges. Returns (coupon batch ids, privilege benefit ids)."""
    from decimal import Decimal

    from entitlements.models import Benefit, BenefitSource, TierBenefit
    from members.models import Tier

    gold = Tier.objects.create(code="gold", name="金卡会员", rank=1, threshold=0)
    per_batch = members * -(-HOLDINGS // BENEFITS)  # slot s takes benefit s mod 20
    batch_ids = []
    for n in range(1, BENEFITS + 1):
        batch_id, _seconds = _common.generate_batch(
            code=f"BB{n:02d}",
            quantity=per_batch,
            activate=True,
            per_member_limit=None,
            valid_days=30,
        )
        benefit = Benefit.objects.create(
            code=f"B{n:02d}",
            name=f"权益券 {n}",
            kind=Benefit.Kind.COUPON,
            face_value=Decimal("10.00"),
            priority=n,
            description="每月可领",
        )
        BenefitSource.objects.create(benefit=benefit, batch_id=batch_id)
        TierBenefit.objects.create(tier=gold, benefit=benefit, quota=5, period="month")
        batch_ids.append(batch_id)
    privileges = [
        Benefit.objects.create(
            code=f"PRIV{n}", name=f"特权 {n}", kind=Benefit.Kind.PRIVILEGE, valid_days=30
        ).pk
        for n in (1, 2)
    ]
    return batch_ids, privileges


def grant_benefit() -> None:
    from decimal import Decimal

    from entitlements.models import Benefit, BenefitSource

    batch_id, _seconds = _common.generate_batch(
        code="BENCH-GRANTS", quantity=GRANT_STOCK, activate=True, per_member_limit=None
    )
    benefit = Benefit.objects.create(
        code=GRANT_BENEFIT, name="咖啡券", kind=Benefit.Kind.COUPON, face_value=Decimal("15.00")
    )
    BenefitSource.objects.create(benefit=benefit, batch_id=batch_id)


def all_gold() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_member SET tier_id = (SELECT id FROM members_tier WHERE code ="
            " 'gold'), tier_since = now()"
        )


def holdings(batch_ids: list[int], privileges: list[int], prefixes: tuple[str, ...]) -> int:
    """Each member whose external id starts with one of `prefixes` holds 50 vouchers
    (slot s from benefit s mod 20), each granted through the tier route, their month's
    quota counters, and both privileges. Returns the vouchers handed out."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from entitlements.models import Benefit, Grant, GrantVoucher, QuotaUse
    from entitlements.periods import period_start

    now = timezone.now()
    month = period_start("month", now)
    benefit_of_batch = dict(
        Benefit.objects.filter(sources__batch_id__in=batch_ids).values_list(
            "sources__batch_id", "pk"
        )
    )
    like = " OR ".join("mm.external_id LIKE %s" for _ in prefixes)
    pairs: list[tuple[int, int, int]] = []  # (voucher id, member id, benefit id)
    with transaction.atomic(), connection.cursor() as cursor:
        for index, batch_id in enumerate(batch_ids):
            cursor.execute(
                f"""
                WITH v AS (
                    SELECT id, row_number() OVER (ORDER BY sequence) AS rn
                    FROM vouchers_voucher WHERE batch_id = %s AND status = 'available'
                ), m AS (
                    SELECT mm.id AS member_id, row_number() OVER (ORDER BY mm.id, s) AS rn
                    FROM members_member mm CROSS JOIN generate_series(0, {HOLDINGS - 1}) s
                    WHERE s %% {BENEFITS} = %s AND ({like})
                )
                UPDATE vouchers_voucher t
                SET status = 'claimed', member_id = m.member_id, claimed_at = now(),
                    expires_at = now() + interval '30 days', channel = 'bench'
                FROM v JOIN m USING (rn)
                WHERE t.id = v.id
                RETURNING t.id, m.member_id
                """,
                [batch_id, index, *[f"{prefix}%" for prefix in prefixes]],
            )
            benefit_id = benefit_of_batch[batch_id]
            pairs += [(voucher_id, member_id, benefit_id) for voucher_id, member_id in cursor]
        stamp = {"actor_kind": "system", "actor_label": "bench", "context": {}}
        grants = [
            Grant(
                uid=uuid.uuid4(),
                member_id=member_id,
                benefit_id=benefit_id,
                via=Grant.Via.TIER,
                occasion="claim",
                status=Grant.Status.FULFILLED,
                quota_scope="tier",
                quota_period_start=month,
                fulfilled_at=now,
                **stamp,
            )
            for _voucher, member_id, benefit_id in pairs
        ]
        Grant.objects.bulk_create(grants, batch_size=5000)
        GrantVoucher.objects.bulk_create(
            [
                GrantVoucher(grant_id=grant.pk, voucher_id=voucher_id)
                for grant, (voucher_id, _m, _b) in zip(grants, pairs, strict=True)
            ],
            batch_size=5000,
        )
        used: dict[tuple[int, int], int] = {}
        for _voucher, member_id, benefit_id in pairs:
            used[(member_id, benefit_id)] = used.get((member_id, benefit_id), 0) + 1
        QuotaUse.objects.bulk_create(
            [
                QuotaUse(
                    member_id=member_id,
                    benefit_id=benefit_id,
                    scope="tier",
                    period_start=month,
                    used=n,
                )
                for (member_id, benefit_id), n in used.items()
            ],
            batch_size=5000,
        )
        members = sorted({member_id for _v, member_id, _b in pairs})
        Grant.objects.bulk_create(
            [
                Grant(
                    uid=uuid.uuid4(),
                    member_id=member_id,
                    benefit_id=benefit_id,
                    via=Grant.Via.API,
                    status=Grant.Status.FULFILLED,
                    fulfilled_at=now,
                    valid_until=now + dt.timedelta(days=30),
                    **stamp,
                )
                for member_id in members
                for benefit_id in privileges
            ],
            batch_size=5000,
        )
    return len(pairs)


def holdings_spread() -> tuple[int, int]:
    """(fewest, most) vouchers held by a member who holds any."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM vouchers_voucher"
            " WHERE member_id IS NOT NULL GROUP BY member_id) h"
        )
        return cursor.fetchone()


def grant_check() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM entitlements_grant g JOIN entitlements_benefit b"
            " ON b.id = g.benefit_id WHERE b.code = %s AND g.status = 'fulfilled'",
            [GRANT_BENEFIT],
        )
        grants = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), count(DISTINCT gv.voucher_id) FROM entitlements_grantvoucher gv"
            " JOIN entitlements_grant g ON g.id = gv.grant_id JOIN entitlements_benefit b"
            " ON b.id = g.benefit_id WHERE b.code = %s",
            [GRANT_BENEFIT],
        )
        granted, distinct = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM vouchers_voucher v JOIN vouchers_voucherbatch b"
            " ON b.id = v.batch_id WHERE b.code = 'BENCH-GRANTS' AND v.status = 'claimed'"
        )
        claimed = cursor.fetchone()[0]
    return {"grants": grants, "granted": granted, "distinct": distinct, "claimed": claimed}


def line(label: str, run: dict, status: str) -> None:
    print(
        f"{label:24}{run['rps']:,.1f} req/s ({run['requests']:,} in {run['seconds']:.1f} s), "
        f"p50 {run['p50_ms']:.1f} ms, p90 {run['p90_ms']:.1f} ms, "
        f"p99 {run['p99_ms']:.1f} ms, max {run['max_ms']:.1f} ms"
    )
    print(
        f"{'':24}{status}: {run['expected']:,}; non-{status}: {run['unexpected']:,} "
        f"{run['unexpected_sample'].strip()}; socket errors {run['socket_errors']}, "
        f"timeouts {run['timeouts']}"
    )
    print(f"{'':24}{run['cpu']}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help=f"seconds, <= {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--members-per-thread", type=int, default=500)
    parser.add_argument("--grant-members-per-thread", type=int, default=20_000)
    parser.add_argument("--db", default="quanyi_bench_entitlements")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--no-wait", action="store_true", help="Do not wait for a quiet machine (quick try)."
    )
    parser.add_argument(
        "--quiet-timeout",
        type=int,
        default=300,
        help="Seconds to wait at most for a quiet machine before each measured run.",
    )
    parser.add_argument(
        "--setup-only",
        action="store_true",
        help="Build the data and count the statements; no server, no load.",
    )
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION}")
    if args.no_wait:
        _common.wait_quiet = lambda **_kwargs: (True, 0.0)
    else:
        _common.wait_quiet = functools.partial(_common.wait_quiet, timeout=args.quiet_timeout)
    threads = max(args.threads, 2)
    warm_per_thread = max(10, args.members_per_thread // 5)

    env = _common.bench_env(args.db)
    if os.environ.get("BENCH_CACHE_URL"):  # another Redis than the default one
        env["CACHE_URL"] = os.environ["CACHE_URL"] = os.environ["BENCH_CACHE_URL"]
    _common.recreate_database(args.db)
    server = None
    log_path = Path(tempfile.gettempdir()) / f"{args.db}-gunicorn.log"
    run_tag = uuid.uuid4().hex[:8]
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Benefits benchmark: PostgreSQL {info['postgresql']}, {info['nproc']} cores, "
            f"database {args.db}"
        )
        key = _common.create_partner_key(["members:read", "benefits:grant"])
        members = _common.create_members(
            {
                "m": args.members_per_thread,
                "w": warm_per_thread,
                "g": args.grant_members_per_thread,
                "h": max(100, args.grant_members_per_thread // 10),
            },
            threads=threads,
        )
        holders = threads * (args.members_per_thread + warm_per_thread)
        started = time.perf_counter()
        batch_ids, privileges = catalog(holders)
        all_gold()
        grant_benefit()
        held = holdings(batch_ids, privileges, ("m", "w"))
        fewest, most = holdings_spread()
        if fewest != HOLDINGS or most != HOLDINGS:
            raise SystemExit(f"Members hold {fewest}..{most} vouchers instead of {HOLDINGS}.")
        print(
            f"  {members:,} members (COPY), all gold; {BENEFITS} coupon benefits on their own "
            f"batches with a gold matrix row each (claimable, 5 a month), 2 privileges; "
            f"{holders:,} members hold {HOLDINGS} granted vouchers each ({held:,}) and both "
            f"privileges; {GRANT_BENEFIT} on a {GRANT_STOCK:,}-voucher batch "
            f"(set-up {time.perf_counter() - started:.0f} s)"
        )
        _common.vacuum_analyze(
            "members_member",
            "vouchers_voucher",
            "entitlements_grant",
            "entitlements_grantvoucher",
            "entitlements_quotause",
        )
        probes = (
            ("read", _common.statements_per_request("GET", "/api/v1/members/m1-1", key)),
            (
                "entitlements",
                _common.statements_per_request("GET", "/api/v1/members/m1-1/entitlements", key),
            ),
            (
                "grant",
                _common.statements_per_request(
                    "POST",
                    "/api/v1/members/h1-1/grants",
                    key,
                    {"benefit": GRANT_BENEFIT, "via": "api", "channel": "bench"},
                ),
            ),
        )
        for label, statements in probes:
            print(
                f"  SQL statements per {label} request ({statements[0]}, rolled back): "
                f"{len(statements) - 1}: "
                + "; ".join(_common.describe_statement(sql) for sql in statements[1:])
            )
        _common.close_django_connections()
        if args.setup_only:
            return 0

        port = _common.free_port()
        server = _common.start_gunicorn(port, env, log_path)
        load = {"port": port, "threads": args.threads, "connections": args.connections}
        calm = {"port": port, "threads": 2, "connections": 2}
        warm = str(warm_per_thread)
        warm_runs = [
            _common.run_wrk(
                script=script,
                script_args=script_args,
                duration=args.warmup,
                show=False,
                **load,
            )
            for script, script_args in (
                ("member_read.lua", [key, "w", warm]),
                ("entitlements.lua", [key, "w", warm]),
                ("grants.lua", [key, GRANT_BENEFIT, "h", f"{run_tag}w"]),
            )
        ]
        warm_grants = warm_runs[-1]["expected"]
        count = str(args.members_per_thread)

        def measured(label: str, script: str, script_args: list[str], shape: dict) -> dict:
            print(f"  {label}:")
            return _common.run_wrk(
                script=script,
                script_args=script_args,
                duration=args.duration,
                meter=_common.CpuMeter(server.pid, args.db),
                **shape,
            )

        c = args.connections
        read = measured(f"read, {c} connections", "member_read.lua", [key, "m", count], load)
        ents = measured(
            f"(a) entitlements, {c} connections", "entitlements.lua", [key, "m", count], load
        )
        grants = measured(
            f"(b) grants, {c} connections",
            "grants.lua",
            [key, GRANT_BENEFIT, "g", run_tag],
            load,
        )
        read_calm = measured("read, 2 connections", "member_read.lua", [key, "m", count], calm)
        ents_calm = measured(
            "(a) entitlements, 2 connections", "entitlements.lua", [key, "m", count], calm
        )
        _common.stop_gunicorn(server)
        server = None
        time.sleep(1)
        if grants["max_counter"] > args.grant_members_per_thread:
            print("  warning: the grant run ran past its members (404s expected)")

        runs = (
            (f"read (c{c}):", read, "200"),
            (f"entitlements (c{c}):", ents, "200"),
            (f"grants (c{c}):", grants, "201"),
            ("read (c2):", read_calm, "200"),
            ("entitlements (c2):", ents_calm, "200"),
        )
        print()
        for label, run, status in runs:
            line(label, run, status)
        ratio = ents["rps"] / read["rps"]
        ratio_calm = ents_calm["rps"] / read_calm["rps"]
        grant_ratio = grants["rps"] / read["rps"]
        p99 = ents_calm["p99_ms"]
        print(
            f"(a) entitlements p99 at 2 connections: {p99:.1f} ms "
            f"(target < {TARGET_P99_MS:.0f} ms: {verdict(p99 < TARGET_P99_MS)})"
        )
        print(
            f"(a) ratio entitlements / read: {ratio:.2f} at {c} connections "
            f"(target >= {TARGET_READ_RATIO:.2f}: {verdict(ratio >= TARGET_READ_RATIO)}); "
            f"{ratio_calm:.2f} at 2 connections"
        )
        print(
            f"(b) ratio grants / read: {grant_ratio:.2f} at {c} connections "
            f"(target >= {TARGET_GRANT_RATIO:.2f}: {verdict(grant_ratio >= TARGET_GRANT_RATIO)})"
        )
        check = grant_check()
        # wrk stops counting at the deadline: grants in flight then may have committed
        # without being counted (at most one per connection and run).
        counted = warm_grants + grants["expected"]
        in_flight = check["grants"] - counted
        consistent = (
            check["grants"] == check["granted"] == check["distinct"] == check["claimed"]
            and 0 <= in_flight <= 2 * args.connections + 2
        )
        print(
            f"database: {check['grants']:,} fulfilled grants of {GRANT_BENEFIT} (HTTP 201s "
            f"counted by wrk incl. warm-up: {counted:,}; {in_flight} in flight at the "
            f"deadlines), {check['granted']:,} granted vouchers, "
            f"{check['distinct']:,} distinct, {check['claimed']:,} claimed in the batch: "
            + ("consistent" if consistent else "INCONSISTENT")
        )
        valid = grants["expected"] > 0 and not any(run["unexpected"] for _l, run, _s in runs)
        if not valid:
            print(f"WARNING: unexpected statuses in the measured runs; see {log_path}")
        if any(run["disturbed"] for _l, run, _s in runs):
            print("WARNING: a measured run was disturbed by other work (see 'other' CPU)")
        return 0 if valid and consistent else 1
    finally:
        _common.stop_gunicorn(server)
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
