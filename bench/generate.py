"""Code generation speed: N codes into one batch through the real path, against a raw
COPY of rows of the same shape measured in the same run.

    .venv/bin/python bench/generate.py                # 1,000,000 codes
    .venv/bin/python bench/generate.py --quantity 20000

Uses its own database (dropped and created, then migrated; dropped at the end unless
--keep). Reference: the same number of rows of the same shape, built in Python first,
timed only for one psycopg 3 `COPY ... FROM STDIN (FORMAT BINARY)` (plus its commit)
into a table created `LIKE vouchers_voucher INCLUDING ALL` (same columns, indexes and
check constraints; PostgreSQL never copies foreign keys with LIKE).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

TARGET_RATIO = 0.30
REF_TABLE = "bench_copy_ref"
REF_COLUMNS = (
    "batch_id",
    "sequence",
    "serial",
    "supplier_serial",
    "secret_ciphertext",
    "secret_index",
    "key_id",
    "status",
    "frozen_from",
    "channel",
    "trace",
    "region",
    "created_at",
)
REF_TYPES = [
    "int8",
    "int4",
    "text",
    "text",
    "bytea",
    "bytea",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "text",
    "timestamptz",
]


def reference_rows(quantity: int, *, batch_code: str, batch_id: int) -> list[tuple]:
    """Rows shaped like generated vouchers: same serial format, a random ciphertext of the
    real sealed length, 32 random index bytes, the current key id."""
    from riskcontrol.crypto import codec
    from vouchers.codes import generate_codes
    from vouchers.secrets import code_aad

    sealer = codec()
    key_id = sealer.current_key_id
    width = max(6, len(str(quantity)))
    sample = generate_codes(1)[0]
    sealed_len = len(sealer.encrypt(sample, aad=code_aad(batch_code, f"{batch_code}-1")))
    now = dt.datetime.now(dt.UTC)
    trace: dict = {}
    return [
        (
            batch_id,
            sequence,
            f"{batch_code}-{sequence:0{width}d}",
            "",
            os.urandom(sealed_len),
            os.urandom(32),
            key_id,
            "available",
            "",
            "",
            trace,
            "",
            now,
        )
        for sequence in range(1, quantity + 1)
    ]


def raw_copy(db_url: str, rows: list[tuple]) -> float:
    """Seconds for one binary COPY of `rows` into the reference table, commit included."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {REF_TABLE}")
        conn.execute(f"CREATE TABLE {REF_TABLE} (LIKE vouchers_voucher INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            statement = f"COPY {REF_TABLE} ({', '.join(REF_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(statement) as copy:
                copy.set_types(REF_TYPES)
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        count = conn.execute(f"SELECT count(*) FROM {REF_TABLE}").fetchone()[0]
        if count != len(rows):
            raise SystemExit(f"Reference COPY stored {count} rows, not {len(rows)}.")
    return elapsed


def checkpoint(db_url: str) -> None:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantity", type=int, default=1_000_000)
    parser.add_argument("--db", default="quanyi_bench_generate")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    quantity = args.quantity
    batch_code = "BENCHGEN"

    env = _common.bench_env(args.db)
    _common.recreate_database(args.db)
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Generation benchmark: {quantity:,} codes, PostgreSQL {info['postgresql']}, "
            f"{info['nproc']} cores, database {args.db}"
        )

        build_started = time.perf_counter()
        rows = reference_rows(quantity, batch_code="REFBATCH", batch_id=1)
        build = time.perf_counter() - build_started
        print(f"  reference rows built in Python in {build:.1f} s (not timed)")
        print("  " + _common.busy_note())
        ref_seconds = raw_copy(env["DATABASE_URL"], rows)
        del rows
        ref_rate = quantity / ref_seconds
        print(f"  raw COPY (FORMAT BINARY) into {REF_TABLE}: {ref_seconds:.2f} s")
        checkpoint(env["DATABASE_URL"])

        print("  " + _common.busy_note())
        print("  generating through voucher_batch_create + voucher_batch_generate ...")
        batch_id, seconds = _common.generate_batch(code=batch_code, quantity=quantity)
        rate = quantity / seconds
        print(f"  generation: {seconds:.2f} s")

        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(DISTINCT secret_index) FROM vouchers_voucher"
                " WHERE batch_id = %s",
                [batch_id],
            )
            rows_count, distinct = cursor.fetchone()
        ok = rows_count == quantity and distinct == quantity
        ratio = rate / ref_rate

        print()
        print(f"ours (real generation path): {rate:,.0f} codes/s")
        print(f"raw COPY reference:          {ref_rate:,.0f} rows/s")
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"ratio ours / raw COPY:       {ratio:.2f} (target >= {TARGET_RATIO:.2f}: {verdict})")
        print(
            f"verify: {rows_count:,} rows in the batch, {distinct:,} distinct secret_index: "
            + ("OK" if ok else "FAILED")
        )
        return 0 if ok else 1
    finally:
        _common.close_django_connections()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
