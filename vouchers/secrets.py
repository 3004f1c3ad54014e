"""Sealing, indexing and revealing voucher codes (through riskcontrol.crypto).

A voucher's blind index (`secret_index`, unique) is taken over its code's *folded* form
(case folded, spaces and dashes dropped, O read as 0, I and L as 1), whatever its batch's
code format: the folded form is what a code is at the till, where a clerk types what the
card shows. So two codes that read the same once folded are one code to the database —
an imported card secret `abcd-efgh-jkmn-pqrs` and a generated `ABCDEFGHJKMNPQRS` cannot
both exist — while the sealed code itself is kept exactly as delivered (`exact` batches)
and shown that way. Generated codes are already folded, so generating costs nothing more.
"""

from __future__ import annotations

from django.db.models import QuerySet

from riskcontrol.crypto import CODE_FORMAT_CROCKFORD, code_lookup_forms, codec, normalise_code

from .codes import format_code
from .models import Voucher, VoucherBatch

INDEX_PURPOSE = "voucher.code"


def code_aad(batch_code: str, serial: str) -> bytes:
    """Binds a sealed code to its voucher: batch code + serial."""
    return f"voucher:{batch_code}:{serial}".encode()


def fold_code(code: str) -> str:
    """A code's identity: the form two codes that read the same share."""
    return normalise_code(code, CODE_FORMAT_CROCKFORD)


def code_index(code: str) -> bytes:
    """The blind index a voucher with this code is stored under (of its folded form)."""
    return folded_code_index(fold_code(code))


def folded_code_index(folded: str) -> bytes:
    """`code_index` of a code already folded (generated codes are born folded)."""
    return codec().blind_index(folded, purpose=INDEX_PURPOSE)


def lookup_indexes(raw_code: str) -> list[bytes]:
    """Blind indexes to try for a typed code: its exact form first, then the folded one
    (the exact form finds vouchers indexed before indexes were folded, if any are left)."""
    return [
        codec().blind_index(form, purpose=INDEX_PURPOSE) for form in code_lookup_forms(raw_code)
    ]


def pick_by_code(vouchers: QuerySet[Voucher], raw_code: str) -> Voucher | None:
    """The voucher of `vouchers` whose code is `raw_code`: both forms (exact, then
    folded) asked in one query through the blind index, the exact form winning."""
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
