"""Redemption throughput over HTTP: gunicorn (2 sync workers) loaded with wrk on loopback,
`POST /api/v1/redemptions` (by code, a different claimed voucher per request) against the
authenticated one-row read of bench/claim.py on the same server, in the same run.

    .venv/bin/python bench/redeem.py                      # 200,000 vouchers, 20 s runs
    .venv/bin/python bench/redeem.py --quantity 20000 --claimed 15000 --duration 5

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Steps: generate a batch through the real path (per-member limit none, valid 30
days after claiming, active), create members with COPY, a store (`store_upsert`) and a
partner client with the scopes `members:read` and `redemptions:write`; mark the first
--claimed vouchers claimed with one SQL UPDATE (status, member, claimed_at = now(),
expires_at = now() + 30 days), VACUUM ANALYZE; reveal the plaintext codes of as many
claimed vouchers as the runs can use (`vouchers.secrets.reveal_code`, checked against
their blind index so no request can count as a guess) into a temporary file (mode 0600,
deleted at the end whatever happens; codes are never printed); count the SQL statements
of one read and one redemption (rolled back); start gunicorn, warm both endpoints up,
run wrk on `GET /api/v1/members/{id}`, then on redemptions at 32 connections and at 2
(one per worker: the service time without queueing), noting where the CPU went in each
run; optionally sample the workers with py-spy under load (--profile); stop gunicorn and
check the database: as many completed redemptions as 201 responses (plus those in
flight when wrk stopped), no voucher redeemed twice, no guess recorded.

bench/redeem.lua gives each wrk thread its own slice of the codes file, so no code is
sent twice; a thread that runs out stops (raise --max-rate if it says so).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_RATIO = 0.60
TARGET_P99_MS = 50.0
MAX_DURATION = _common.MAX_DURATION
BATCH_CODE = "BENCHREDEEM"
STORE_CODE = "BENCH-STORE-1"
VALID_DAYS = 30


# --- set-up ----------------------------------------------------------------------------


def create_store() -> None:
    from redemption.services import store_upsert

    store_upsert(code=STORE_CODE, name="Benchmark store", group="bench")


def claim_first(batch_id: int, count: int) -> int:
    """Mark the batch's first `count` vouchers (by sequence) claimed, spread over the
    members round robin, as a claim would: claimed_at now, expiring in VALID_DAYS."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (
                SELECT id, (row_number() OVER (ORDER BY sequence) - 1)
                    %% (SELECT count(*) FROM members_member) AS rn
                FROM vouchers_voucher
                WHERE batch_id = %(batch)s AND status = 'available'
                ORDER BY sequence LIMIT %(n)s
            ), m AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM members_member
            )
            UPDATE vouchers_voucher t
            SET status = 'claimed', member_id = m.id, claimed_at = now(),
                expires_at = now() + make_interval(days => %(days)s), channel = 'bench'
            FROM v JOIN m USING (rn)
            WHERE t.id = v.id
            """,
            {"batch": batch_id, "n": count, "days": VALID_DAYS},
        )
        return cursor.rowcount


def reveal_codes(batch_id: int, count: int) -> tuple[list[str], int]:
    """The plaintext codes (as people read them) of the batch's first `count` claimed
    vouchers (by sequence), each checked against its blind index as the server looks it
    up: a code the server would not find would count as a guess and, twenty of them,
    block the client and the store (429). Also returns how many are found by their
    exact form (the server's first lookup); the others need its second (folded) one."""
    from vouchers.models import Voucher, VoucherBatch
    from vouchers.secrets import lookup_indexes, reveal_code

    batch = VoucherBatch.objects.get(pk=batch_id)
    vouchers = (
        Voucher.objects.filter(batch_id=batch_id, status=Voucher.Status.CLAIMED)
        .order_by("sequence")
        .only("id", "serial", "secret_ciphertext", "secret_index", "key_id", "batch_id")[:count]
    )
    codes = []
    exact = 0
    for voucher in vouchers.iterator(chunk_size=5000):
        code = reveal_code(voucher, batch)
        indexes = lookup_indexes(code)
        if bytes(voucher.secret_index) not in indexes:
            raise SystemExit(f"Voucher {voucher.serial}: its revealed code misses its index.")
        exact += indexes[0] == bytes(voucher.secret_index)
        codes.append(code)
    if len(codes) != count or len(set(codes)) != count:
        raise SystemExit(f"Revealed {len(set(codes))} distinct codes instead of {count}.")
    return codes, exact


def write_codes(codes: list[str]) -> str:
    """One code per line into a new private temporary file; the caller deletes it."""
    fd, path = tempfile.mkstemp(prefix="quanyi-bench-codes-", suffix=".txt")  # mode 0600
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(codes) + "\n")
    return path


def database_check(batch_id: int) -> dict[str, int]:
    from django.db.models import Count, Max, Sum

    from redemption.models import Redemption
    from riskcontrol.models import GuessCounter
    from vouchers.models import Voucher, VoucherEvent

    completed = Redemption.objects.filter(batch_id=batch_id, status=Redemption.Status.COMPLETED)
    by_voucher = completed.values("voucher_id").annotate(n=Count("id"))
    return {
        "completed": completed.count(),
        "vouchers": by_voucher.count(),
        "twice": by_voucher.filter(n__gt=1).count(),
        "not_claimed_before": completed.exclude(voucher_status_before="claimed").count(),
        "redemptions": Redemption.objects.count(),
        "redeemed": Voucher.objects.filter(batch_id=batch_id, status="redeemed").count(),
        "max_sequence": Voucher.objects.filter(batch_id=batch_id, status="redeemed").aggregate(
            m=Max("sequence")
        )["m"]
        or 0,
        "events": VoucherEvent.objects.filter(batch_id=batch_id, action="redeem").count(),
        "guesses": GuessCounter.objects.aggregate(n=Sum("count"))["n"] or 0,
    }


# --- profile ---------------------------------------------------------------------------

# Where a sample's time is charged: the innermost frame whose file belongs to one of these
# (the first component of py-spy's shortened path); the standard library and anything
# else is charged to its nearest such caller.
_PROJECT = {
    "config",
    "riskcontrol",
    "members",
    "vouchers",
    "redemption",
    "suppliers",
    "entitlements",
    "analytics",
}
_PACKAGES = [
    ("psycopg", "psycopg (incl. waiting for PostgreSQL)"),
    ("psycopg_c", "psycopg (incl. waiting for PostgreSQL)"),
    ("django/db", "Django ORM (building SQL, model instances)"),
    ("rest_framework_api_key", "API key check (rest_framework_api_key, hashing)"),
    ("rest_framework", "DRF (request, parsers, serializers, renderers)"),
    ("cryptography", "crypto (cryptography)"),
    ("django", "Django (middleware, request, response, i18n)"),
    ("whitenoise", "Django (middleware, request, response, i18n)"),
    ("axes", "Django (middleware, request, response, i18n)"),
    ("gunicorn", "gunicorn (HTTP parsing, socket I/O)"),
]
# Inclusive shares of these functions: (function name, file, label); "parent>name" counts
# only calls made directly from `parent`.
_FUNCTIONS = [
    ("authenticate", "riskcontrol/http/authentication.py", "API key authentication"),
    ("post", "redemption/api.py", "RedemptionCreateApi.post"),
    ("validate", "riskcontrol/http/partner_api.py", "  input validation (serializer)"),
    ("redemption_create", "redemption/services.py", "  redemption_create"),
    ("guess_limit_check", "riskcontrol/rules/guessing.py", "    guess_limit_check"),
    ("voucher_find_by_code", "vouchers/selectors.py", "    voucher_find_by_code (2 lookups)"),
    ("lookup_indexes", "vouchers/secrets.py", "      of which the blind index (HMAC)"),
    ("voucher_for_update", "vouchers/locks.py", "    voucher_for_update (row lock)"),
    (
        "voucher_for_update_by_code",
        "vouchers/locks.py",
        "    voucher_for_update_by_code (find + lock + store check)",
    ),
    ("redemption_create>first", "django/db/models/query.py", "    store and rule lookups"),
    ("_store_fetch", "redemption/services.py", "    store lookup (cache miss)"),
    ("voucher_mark_redeemed", "vouchers/services/marks.py", "    voucher_mark_redeemed (+ event)"),
    ("create", "django/db/models/query.py", "    QuerySet.create (event, redemption)"),
    ("__exit__", "django/db/transaction.py", "    leaving atomic blocks (COMMIT)"),
    ("data", "rest_framework/serializers.py", "  output serializer"),
    ("execute", "psycopg/cursor.py", "all SQL: psycopg Cursor.execute"),
]


def _frame(frame: str) -> tuple[str, str]:
    """py-spy's "Class.function (path/file.py:line)" -> (function, path)."""
    name, _sep, where = frame.rpartition(" (")
    return name.rsplit(".", 1)[-1], where.rpartition(":")[0]


def _package(path: str) -> str | None:
    first = path.split("/", 1)[0]
    if first in _PROJECT:
        return "project code (own frames)"
    for prefix, label in _PACKAGES:
        if path == prefix or path.startswith(prefix + "/"):
            return label
    return None


def profile_workers(server_pid: int, seconds: int, path: Path) -> subprocess.Popen:
    """Sample the workers with py-spy (idle frames included, so the time spent waiting on
    PostgreSQL counts) for `seconds`; raw collapsed stacks into `path`."""
    py_spy = Path(sys.executable).parent / "py-spy"
    command = [
        str(py_spy),
        "record",
        "--pid",
        str(server_pid),
        "--subprocesses",
        "--idle",
        "--rate",
        "200",
        "--format",
        "raw",
        "--duration",
        str(seconds),
        "--output",
        str(path),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def profile_summary(path: Path) -> list[str]:
    """Share of the workers' in-request samples per package (exclusive) and per
    function (inclusive), from py-spy's collapsed stacks."""
    in_request = waiting = 0
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _sep, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";") if " (" in frame]
        if "SyncWorker.handle_request (" not in stack:
            if "SyncWorker.wait (" in stack:
                waiting += count  # a worker waiting for a connection
            continue  # the master
        in_request += count
        label = "other"
        for _name, file in reversed(frames):
            found = _package(file)
            if found is not None:
                label = found
                break
        packages[label] += count
        for name, file, flabel in _FUNCTIONS:
            parent, _sep, name = name.rpartition(">")  # "parent>name": called directly
            if parent:
                found = any(
                    frames[i][0] == parent and frames[i + 1] == (name, file)
                    for i in range(len(frames) - 1)
                )
            else:
                found = (name, file) in frames
            if found:
                functions[flabel] += count
    total = max(in_request, 1)
    lines = [
        f"py-spy, 2 workers at 200 Hz: {in_request:,} samples in a request, {waiting:,} "
        "waiting for a connection",
        "time in a request by where it is spent (innermost library frame; the standard "
        "library charged to its caller):",
    ]
    for label, count in packages.most_common():
        lines.append(f"  {count / total:5.1%}  {label}")
    lines.append("time in a request, inclusive, by function:")
    for _name, _file, flabel in _FUNCTIONS:
        lines.append(f"  {functions[flabel] / total:5.1%}  {flabel}")
    return lines


# --- main ------------------------------------------------------------------------------


def show_run(label: str, run: dict, status: str) -> None:
    print(
        f"{label + ':':13}{run['rps']:,.1f} req/s ({run['requests']:,} in "
        f"{run['seconds']:.1f} s), p50 {run['p50_ms']:.1f} ms, p90 {run['p90_ms']:.1f} ms, "
        f"p99 {run['p99_ms']:.1f} ms, max {run['max_ms']:.1f} ms"
    )
    problems = run.get("problems", "").strip()
    print(
        f"             {status}: {run['expected']:,}; non-{status}: {run['unexpected']:,}"
        + (f" ({run['unexpected_sample'].strip()}" if run["unexpected"] else "")
        + (f"; {problems}" if problems else "")
        + (")" if run["unexpected"] else "")
        + f"; socket errors {run['socket_errors']}, timeouts {run['timeouts']}"
    )
    if "cpu" in run:
        print(f"             {run['cpu']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantity", type=int, default=200_000)
    parser.add_argument("--claimed", type=int, default=100_000, help="claimed by SQL UPDATE")
    parser.add_argument("--duration", type=int, default=20, help=f"seconds, <= {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--max-rate", type=int, default=800, help="codes revealed per second of each run"
    )
    parser.add_argument("--members-per-thread", type=int, default=60_000)
    parser.add_argument(
        "--profile", type=int, default=10, help="seconds of py-spy under load (0: none)"
    )
    parser.add_argument("--db", default="quanyi_bench_redeem")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    if args.profile and not (Path(sys.executable).parent / "py-spy").exists():
        print("  py-spy is not installed in the venv (pip install py-spy): no profile")
        args.profile = 0
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION}")
    if not 0 <= args.profile <= MAX_DURATION:
        parser.error(f"--profile must be between 0 and {MAX_DURATION}")
    if args.claimed > args.quantity:
        parser.error("--claimed cannot exceed --quantity")
    calm_duration = min(args.duration, 10)
    # Codes per thread for each run, in the file in this order (+1: wrk's check call).
    runs = {
        "warm": (args.threads, args.warmup),
        "main": (args.threads, args.duration),
        "calm": (2, calm_duration),
        "profile": (args.threads, args.profile + 2 if args.profile else 0),
    }
    slices: dict[str, tuple[int, int]] = {}
    needed = 0
    for name, (threads, seconds) in runs.items():
        per_thread = math.ceil(args.max_rate * seconds / threads) + 1 if seconds else 0
        slices[name] = (needed, per_thread)
        needed += per_thread * threads
    if needed + 1 > args.claimed:
        parser.error(f"--claimed must be at least {needed + 1:,} for these runs")
    warm_members = 5_000

    env = _common.bench_env(args.db)
    _common.recreate_database(args.db)
    server = None
    codes_path = None
    log_path = Path(tempfile.gettempdir()) / f"{args.db}-gunicorn.log"
    profile_path = Path(tempfile.gettempdir()) / f"{args.db}-py-spy.txt"
    try:
        try:
            _common.django_setup()
            info = _common.server_info()
            print(
                f"Redemption benchmark: {args.quantity:,} vouchers, {args.claimed:,} claimed, "
                f"PostgreSQL {info['postgresql']}, {info['nproc']} cores, database {args.db}"
            )
            batch_id, seconds = _common.generate_batch(
                code=BATCH_CODE,
                quantity=args.quantity,
                activate=True,
                per_member_limit=None,
                valid_days=VALID_DAYS,
            )
            print(
                f"  batch {BATCH_CODE}: {args.quantity:,} vouchers generated in {seconds:.1f} s, "
                f"no per-member limit, valid {VALID_DAYS} days after claiming, active"
            )
            key = _common.create_partner_key(["members:read", "redemptions:write"])
            members = _common.create_members(
                {"m": args.members_per_thread, "w": warm_members}, threads=max(args.threads, 2)
            )
            create_store()
            started = time.perf_counter()
            claimed = claim_first(batch_id, args.claimed)
            print(
                f"  {members:,} members (COPY), store {STORE_CODE}, partner client with a "
                f"fresh key; {claimed:,} vouchers claimed by one SQL UPDATE in "
                f"{time.perf_counter() - started:.1f} s"
            )
            _common.vacuum_analyze("vouchers_voucher", "members_member")

            started = time.perf_counter()
            codes, exact = reveal_codes(batch_id, needed + 1)
            spare = codes.pop()  # for the rolled-back statement count, never in the file
            codes_path = write_codes(codes)
            del codes
            print(
                f"  {needed:,} codes revealed and checked against their blind index in "
                f"{time.perf_counter() - started:.1f} s ({exact:,} found by their exact form, "
                f"{needed + 1 - exact:,} by the folded one), written to a private temporary "
                "file (deleted at the end)"
            )
            for label, statements in (
                ("read", _common.statements_per_request("GET", "/api/v1/members/m1-1", key)),
                (
                    "redemption",
                    _common.statements_per_request(
                        "POST", "/api/v1/redemptions", key, {"code": spare, "store": STORE_CODE}
                    ),
                ),
            ):
                print(
                    f"  SQL statements per {label} request ({statements[0]}, rolled back): "
                    f"{len(statements) - 1}: "
                    + "; ".join(_common.describe_statement(sql) for sql in statements[1:])
                )
            del spare
            _common.close_django_connections()

            port = _common.free_port()
            server = _common.start_gunicorn(port, env, log_path)
            load = {"port": port, "threads": args.threads, "connections": args.connections}
            hidden = {codes_path: "<codes file>"}

            def redeem_args(name: str) -> list[str]:
                first, per_thread = slices[name]
                return [key, codes_path, STORE_CODE, str(first), str(per_thread)]

            # Warm-up (not measured): both endpoints, with members kept apart ("w...").
            _common.run_wrk(
                script="member_read.lua",
                script_args=[key, "w", str(warm_members)],
                duration=args.warmup,
                show=False,
                **load,
            )
            warm = _common.run_wrk(
                script="redeem.lua",
                script_args=redeem_args("warm"),
                duration=args.warmup,
                show=False,
                hidden=hidden,
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
            print("  (a) redemptions:")
            redeem = _common.run_wrk(
                script="redeem.lua",
                script_args=redeem_args("main"),
                duration=args.duration,
                meter=_common.CpuMeter(server.pid, args.db),
                hidden=hidden,
                **load,
            )
            print("  (c) redemptions, one connection per worker (service time without queueing):")
            calm = _common.run_wrk(
                script="redeem.lua",
                script_args=redeem_args("calm"),
                duration=calm_duration,
                meter=_common.CpuMeter(server.pid, args.db),
                hidden=hidden,
                port=port,
                threads=2,
                connections=2,
            )
            redeem_runs = [warm, redeem, calm]
            profile_lines: list[str] = []
            if args.profile:
                print(f"  (d) py-spy on the workers for {args.profile} s under the same load:")
                _common.wait_quiet()
                # wrk runs 2 s longer than py-spy samples, which starts 1 s into the run.
                done: dict = {}
                loader = threading.Thread(
                    target=lambda: done.update(
                        _common.run_wrk(
                            script="redeem.lua",
                            script_args=redeem_args("profile"),
                            duration=args.profile + 2,
                            show=False,
                            hidden=hidden,
                            **load,
                        )
                    )
                )
                loader.start()
                time.sleep(1)
                spy = profile_workers(server.pid, args.profile, profile_path)
                _out, err = spy.communicate(timeout=args.profile + 60)
                loader.join()
                if not done:
                    raise RuntimeError("The profiled wrk run failed.")
                redeem_runs.append(done)
                if spy.returncode == 0 and profile_path.exists():
                    profile_lines = profile_summary(profile_path)
                    profile_lines.append(f"(collapsed stacks: {profile_path})")
                else:
                    profile_lines = [f"py-spy failed ({spy.returncode}): {err.decode()[-500:]}"]
                print(
                    f"    {done['rps']:,.1f} req/s while sampled, "
                    f"201: {done['expected']:,}, non-201: {done['unexpected']:,}"
                )
            time.sleep(2)  # requests still queued when wrk stopped get served
            _common.stop_gunicorn(server)
            server = None
        finally:
            if codes_path is not None:
                Path(codes_path).unlink(missing_ok=True)
                print("  codes file deleted")
        exhausted = sum(run["exhausted"] for run in redeem_runs)
        created = sum(run["expected"] for run in redeem_runs)
        refused = sum(run["unexpected"] for run in redeem_runs)
        in_flight = sum(run["sent"] - run["expected"] - run["unexpected"] for run in redeem_runs)
        check = database_check(batch_id)
        ratio = redeem["rps"] / read["rps"]
        ratio_ok = ratio >= TARGET_RATIO
        p99_ok = redeem["p99_ms"] < TARGET_P99_MS

        print()
        show_run("redemptions", redeem, "201")
        show_run("read", read, "200")
        print(
            f"ratio redemptions / read: {ratio:.2f} "
            f"(target >= {TARGET_RATIO:.2f}: {'met' if ratio_ok else 'NOT met'})"
        )
        print(
            f"redemption p50 {redeem['p50_ms']:.1f} ms, p99 {redeem['p99_ms']:.1f} ms "
            f"(target p99 < {TARGET_P99_MS:.0f} ms: {'met' if p99_ok else 'NOT met'}); "
            f"{args.connections} connections / {redeem['rps']:,.1f} req/s = "
            f"{1000 * args.connections / redeem['rps']:.0f} ms per request (Little's law)"
        )
        show_run("at 2 conns", calm, "201")
        print(
            f"non-2xx responses (wrk): redemptions {redeem['non2xx']}, redemptions at 2 "
            f"connections {calm['non2xx']}; reads other than 200: {read['unexpected']}"
        )
        expected_rows = created + in_flight
        consistent = (
            check["completed"] == expected_rows
            and check["twice"] == 0
            and check["vouchers"] == check["completed"] == check["redeemed"] == check["events"]
            and check["redemptions"] == check["completed"]
            and check["not_claimed_before"] == 0
            and check["guesses"] == 0
            and refused == 0
        )
        print(
            f"database: {check['completed']:,} completed redemptions for HTTP 201s counted by "
            f"wrk (all runs incl. warm-up{' and profile' if args.profile else ''}) "
            f"{created:,} + {in_flight} in flight when wrk stopped = {expected_rows:,}; "
            f"{check['vouchers']:,} distinct vouchers, {check['twice']} redeemed twice, "
            f"{check['redeemed']:,} vouchers redeemed, {check['events']:,} redeem events, "
            f"{check['not_claimed_before']} not claimed before, guesses recorded "
            f"{check['guesses']}, non-201 {refused}: "
            + ("consistent" if consistent else "INCONSISTENT")
        )
        if exhausted:
            print(f"WARNING: {exhausted} wrk thread(s) ran out of codes; raise --max-rate")
        if any(run["disturbed"] for run in (read, redeem, calm)):
            print("WARNING: a measured run was disturbed by other work (see 'other' CPU)")
        for line in profile_lines:
            print(line)
        return 0 if consistent and not exhausted else 1
    finally:
        _common.stop_gunicorn(server)
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
