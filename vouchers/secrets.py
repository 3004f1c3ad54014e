"""Sealing, indexing and revealing voucher codes (through riskcontrol.crypto)."""

from __future__ import annotations

from django.db.models import QuerySet

from riskcontrol.crypto import code_lookup_forms, codec

from .codes import format_code
from .models import Voucher, VoucherBatch

INDEX_PURPOSE = "voucher.code"


def code_aad(batch_code: str, serial: str) -> bytes:
    """Binds a sealed code to its voucher: batch code + serial."""
    return f"voucher:{batch_code}:{serial}".encode()


def code_index(normalised_code: str) -> bytes:
    return codec().blind_index(normalised_code, purpose=INDEX_PURPOSE)


def lookup_indexes(raw_code: str) -> list[bytes]:
    """Blind indexes to try for a typed code: its exact form first, then the folded one."""
    return [code_index(form) for form in code_lookup_forms(raw_code)]


def pick_by_code(vouchers: QuerySet[Voucher], raw_code: str) -> Voucher | None:
    """The voucher of `vouchers` whose code is `raw_code`: both stored forms (exact,
    then folded) asked in one query through the blind index, the exact form winning."""
    indexes = lookup_indexes(raw_code)
    if not indexes:
        return None
    found = {bytes(v.secret_index): v for v in vouchers.filter(secret_index__in=indexes)}
    return next((found[index] for index in indexes if index in found), None)


def reveal_code(voucher: Voucher, batch: VoucherBatch | None = None) -> str:
    """The code as people read it. Callers record the reveal (a VoucherEvent)."""
    batch = batch or voucher.batch
    code = codec().decrypt(voucher.secret_ciphertext, aad=code_aad(batch.code, voucher.serial))
    return format_code(code, batch.code_format)
