"""Key rotation: re-sealing voucher codes under the newest key of the ring."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction

from riskcontrol.crypto import codec

from ..models import Voucher
from ..secrets import code_aad


def vouchers_reencrypt(*, chunk_size: int = 2000) -> Iterator[int]:
    """Re-seal voucher codes under the newest key, one short transaction per chunk (the
    rows' other columns are not touched, so claims and redemptions carry on). Yields how
    many were done per chunk; safe to interrupt and run again."""
    sealer = codec()
    current = sealer.current_key_id
    while True:
        with transaction.atomic():
            vouchers = list(
                Voucher.objects.select_for_update(of=("self",))
                .exclude(key_id=current)
                .select_related("batch")
                .only("id", "serial", "secret_ciphertext", "key_id", "batch__code")
                .order_by("pk")[:chunk_size]
            )
            for voucher in vouchers:
                aad = code_aad(voucher.batch.code, voucher.serial)
                code = sealer.decrypt(voucher.secret_ciphertext, aad=aad)
                voucher.secret_ciphertext = sealer.encrypt(code, aad=aad)
                voucher.key_id = current
            Voucher.objects.bulk_update(vouchers, ["secret_ciphertext", "key_id"])
        if not vouchers:
            return
        yield len(vouchers)
