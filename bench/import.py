"""Card-stock import speed: a 1,000,000-row CSV through the CLI path on PostgreSQL, against
(a) a raw COPY of rows of the same shape and (b) django-import-export's stock row-by-row
ModelResource import of a 20,000-row sample, both measured in the same run.

    .venv/bin/python bench/import.py                 # 1,000,000 rows
    .venv/bin/python bench/import.py --rows 50000 --sample 2000

Prints rows/s, the import's peak RSS (the `manage.py import_card_stock` process, both
passes: validation and import), the ratio to the raw COPY (target >= 0.30) and to
django-import-export (target >= 50x). The generated CSV holds plaintext codes: it lives in
a private temporary folder that is removed at the end; codes are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from bench.generate import raw_copy, reference_rows  # noqa: E402

TARGET_COPY_RATIO = 0.30
TARGET_IMPORT_EXPORT_RATIO = 50.0
ALPHABET = string.ascii_uppercase + string.digits


def write_csv(path: Path, rows: int, *, prefix: str) -> None:
    """A wholesale file: 卡密 (18 characters), 卡号, 有效期, 面值, 成本 — like a supplier's."""
    rng = random.Random(secrets.randbits(64))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("卡密,卡号,有效期,面值,成本\n")
        for i in range(rows):
            code = prefix + "".join(rng.choices(ALPHABET, k=14))
            out.write(f"{code},SN{i:09d},2027-12-31,30.00,27.50\n")


def import_with_cli(path: Path, batch_code: str) -> tuple[float, int, dict]:
    """Run the real CLI path in its own process: (seconds, peak RSS in MiB, report)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_card_stock",
            str(path),
            "--batch",
            batch_code,
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode != 0:
        raise SystemExit(f"import_card_stock failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    report.pop("issues", None)
    return elapsed, max(peak_kib, before) // 1024, report


def import_export_reference(sample_rows: int, batch_id: int) -> float:
    """django-import-export's stock pipeline (ModelResource.import_data, row by row, in
    one transaction) importing `sample_rows` vouchers of the same shape. No encryption
    happens here at all: it is the library's own speed."""
    import tablib
    from import_export import resources, widgets

    from vouchers.models import Voucher

    class HexBytesWidget(widgets.Widget):
        def clean(self, value, row=None, **kwargs):
            return bytes.fromhex(value)

    class VoucherResource(resources.ModelResource):
        secret_ciphertext = resources.Field(
            attribute="secret_ciphertext", column_name="secret_ciphertext", widget=HexBytesWidget()
        )
        secret_index = resources.Field(
            attribute="secret_index", column_name="secret_index", widget=HexBytesWidget()
        )

        class Meta:
            model = Voucher
            fields = (
                "batch",
                "sequence",
                "serial",
                "supplier_serial",
                "secret_ciphertext",
                "secret_index",
                "key_id",
            )
            import_id_fields = ("serial",)
            skip_diff = True  # the diff view would str() the bytes

    dataset = tablib.Dataset(
        headers=[
            "batch",
            "sequence",
            "serial",
            "supplier_serial",
            "secret_ciphertext",
            "secret_index",
            "key_id",
        ]
    )
    for sequence in range(1, sample_rows + 1):
        dataset.append(
            [
                batch_id,
                sequence,
                f"IEREF-{sequence:06d}",
                f"SN{sequence}",
                os.urandom(60).hex(),
                os.urandom(32).hex(),
                "bench1",
            ]
        )
    started = time.perf_counter()
    result = VoucherResource().import_data(dataset, dry_run=False, use_transactions=True)
    elapsed = time.perf_counter() - started
    if result.has_errors() or result.totals["new"] != sample_rows:
        raise SystemExit(f"django-import-export reference failed: {result.totals}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--db", default="quanyi_bench_import")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    env = _common.bench_env(args.db)
    _common.recreate_database(args.db)
    workdir = Path(tempfile.mkdtemp(prefix="quanyi-bench-import-"))
    os.chmod(workdir, 0o700)
    try:
        _common.django_setup()
        info = _common.server_info()
        print(
            f"Import benchmark: {args.rows:,} rows, PostgreSQL {info['postgresql']}, {info['nproc']} cores"
        )
        from decimal import Decimal

        from riskcontrol.core.actors import Actor
        from vouchers.services import voucher_batch_create

        actor = Actor.system("bench")
        target = voucher_batch_create(
            code="BENCHSTOCK",
            name="Bench stock",
            kind="card_secret",
            face_value=Decimal("30.00"),
            actor=actor,
        )
        reference_batch = voucher_batch_create(
            code="IEREF",
            name="import-export reference",
            kind="card_secret",
            face_value=Decimal("30.00"),
            actor=actor,
        )

        csv_path = workdir / "stock.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows, prefix="BS")
        print(
            f"  CSV written in {time.perf_counter() - started:.1f} s ({csv_path.stat().st_size / 1e6:.0f} MB, not timed)"
        )

        # ours first: the CLI path, in a child process started while this process is still
        # small (a forked child's peak RSS counts the parent's pages until exec)
        print("  " + _common.busy_note())
        seconds, peak_mib, report = import_with_cli(csv_path, "BENCHSTOCK")
        rate = args.rows / seconds
        print(
            f"  import_card_stock: {seconds:.2f} s, report {report['accepted']:,} accepted / {report['rejected']:,} rejected, imported {report['imported']:,}"
        )

        # (a) raw COPY of rows of the same shape
        rows = reference_rows(args.rows, batch_code="REFBATCH", batch_id=target.pk)
        print("  " + _common.busy_note())
        copy_seconds = raw_copy(env["DATABASE_URL"], rows)
        del rows
        copy_rate = args.rows / copy_seconds
        print(f"  raw COPY: {copy_seconds:.2f} s")

        # (b) django-import-export's stock row-by-row import of a sample
        print("  " + _common.busy_note())
        ie_seconds = import_export_reference(args.sample, reference_batch.pk)
        ie_rate = args.sample / ie_seconds
        print(f"  django-import-export ModelResource, {args.sample:,} rows: {ie_seconds:.2f} s")

        from vouchers.models import Voucher

        stored = Voucher.objects.filter(batch=target).count()
        ok = stored == args.rows == report["imported"]
        copy_ratio, ie_ratio = rate / copy_rate, rate / ie_rate
        print()
        print(
            f"ours (CLI, one pass):          {rate:,.0f} rows/s, peak RSS {peak_mib} MiB (target < 300 MiB: {'met' if peak_mib < 300 else 'NOT met'})"
        )
        print(f"raw COPY reference:           {copy_rate:,.0f} rows/s")
        print(f"django-import-export:         {ie_rate:,.0f} rows/s")
        print(
            f"ratio ours / raw COPY:        {copy_ratio:.2f} (target >= {TARGET_COPY_RATIO:.2f}: {'met' if copy_ratio >= TARGET_COPY_RATIO else 'NOT met'})"
        )
        print(
            f"ratio ours / import-export:   {ie_ratio:.0f}x (target >= {TARGET_IMPORT_EXPORT_RATIO:.0f}x: {'met' if ie_ratio >= TARGET_IMPORT_EXPORT_RATIO else 'NOT met'})"
        )
        print(f"verify: {stored:,} vouchers stored: " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        _common.close_django_connections()
        for child in workdir.iterdir():
            child.unlink()
        workdir.rmdir()
        if not args.keep:
            _common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
