"""Generating a batch's vouchers: codes drawn, sealed and written chunk by chunk
(PostgreSQL: COPY into a staging table, then INSERT ... ON CONFLICT DO NOTHING), so a
re-run or a second worker continues where the last commit ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from riskcontrol.core.actors import Actor
from riskcontrol.crypto import codec

from ..codes import generate_codes
from ..models import Voucher, VoucherBatch
from ..secrets import code_aad, folded_code_index
from ..statistics import analyze_vouchers
from .events import _batch_event

GENERATION_CHUNK = 20_000


def _generated_rows(batch: VoucherBatch, sequences: list[int]) -> list[tuple]:
    sealer = codec()
    key_id = sealer.current_key_id
    width = batch.serial_width
    rows = []
    for sequence, code in zip(sequences, generate_codes(len(sequences)), strict=True):
        serial = f"{batch.code}-{sequence:0{width}d}"
        rows.append(
            (
                batch.pk,
                sequence,
                serial,
                sealer.encrypt(code, aad=code_aad(batch.code, serial)),
                folded_code_index(code),  # generated codes are born folded
                key_id,
            )
        )
    return rows


_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS voucher_stage ("
    " batch_id bigint, sequence integer, serial text,"
    " secret_ciphertext bytea, secret_index bytea, key_id text"
    ") ON COMMIT DELETE ROWS"
)
_STAGE_INSERT = (
    "INSERT INTO vouchers_voucher (batch_id, sequence, serial, supplier_serial,"
    " secret_ciphertext, secret_index, key_id, status, frozen_from, channel, trace, region,"
    " created_at)"
    " SELECT batch_id, sequence, serial, '', secret_ciphertext, secret_index, key_id,"
    " 'available', '', '', '{}'::jsonb, '', now() FROM voucher_stage"
    " ON CONFLICT DO NOTHING"
)


def _insert_rows(rows: list[tuple]) -> int:
    """Insert generated vouchers, skipping any that collide (a re-run, or a code that
    already exists). Returns how many went in. PostgreSQL: COPY into a temporary table,
    then INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_STAGE_DDL)
            cursor.execute("DELETE FROM voucher_stage")
            raw = cursor.cursor
            columns = "batch_id, sequence, serial, secret_ciphertext, secret_index, key_id"
            with raw.copy(f"COPY voucher_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int4", "text", "bytea", "bytea", "text"])
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_STAGE_INSERT)
            inserted = cursor.rowcount
            cursor.execute("DELETE FROM voucher_stage")
            return inserted
    now = timezone.now()
    objects = [
        Voucher(
            batch_id=batch_id,
            sequence=sequence,
            serial=serial,
            secret_ciphertext=ciphertext,
            secret_index=index,
            key_id=key_id,
            created_at=now,
        )
        for batch_id, sequence, serial, ciphertext, index, key_id in rows
    ]
    before = Voucher.objects.filter(batch_id=rows[0][0]).count() if rows else 0
    Voucher.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=True)
    return Voucher.objects.filter(batch_id=rows[0][0]).count() - before if rows else 0


def voucher_batch_generate(
    *,
    batch_id: int,
    chunk_size: int = GENERATION_CHUNK,
    on_chunk: Callable[[VoucherBatch], Any] | None = None,
) -> VoucherBatch:
    """Generate a batch's vouchers up to exactly its quantity, one chunk per transaction.

    Each chunk locks the batch row, inserts sequences generated_count+1 .. +chunk and
    raises generated_count in the same transaction, so a worker that dies mid-chunk
    leaves no trace of it and a re-run (or a second worker) continues where the last
    commit ended: no gap, no duplicate. `on_chunk(batch)` runs inside each chunk's
    transaction after its insert (progress reporting; tests use it to crash midway).
    """
    while True:
        with transaction.atomic():
            batch = VoucherBatch.objects.select_for_update().get(pk=batch_id)
            if batch.source != VoucherBatch.Source.GENERATED:
                return batch
            if batch.generated_count >= batch.quantity:
                return _finish_generation(batch)
            start = batch.generated_count + 1
            end = min(batch.quantity, batch.generated_count + chunk_size)
            missing = list(range(start, end + 1))
            for _attempt in range(5):
                _insert_rows(_generated_rows(batch, missing))
                present = set(
                    Voucher.objects.filter(
                        batch_id=batch.pk, sequence__gte=start, sequence__lte=end
                    ).values_list("sequence", flat=True)
                )
                missing = [sequence for sequence in missing if sequence not in present]
                if not missing:
                    break
            else:  # pragma: no cover - 80-bit codes colliding five times in a row
                raise RuntimeError("Could not generate unique codes; check the index key.")
            batch.generated_count = end
            batch.generation = VoucherBatch.Generation.RUNNING
            batch.save(update_fields=["generated_count", "generation", "updated_at"])
            if on_chunk is not None:
                on_chunk(batch)


def _finish_generation(batch: VoucherBatch) -> VoucherBatch:
    analyze_vouchers()  # before the batch opens for claims
    batch.generation = VoucherBatch.Generation.DONE
    activated = batch.activate_when_generated and batch.status == VoucherBatch.Status.DRAFT
    if activated:
        batch.status = VoucherBatch.Status.ACTIVE
    batch.save(update_fields=["generation", "status", "updated_at"])
    if activated:
        _batch_event(
            batch=batch,
            action="activate",
            detail="all vouchers generated",
            actor=Actor.system("generation"),
        )
    return batch
