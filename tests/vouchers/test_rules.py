"""vouchers/rules.py: the one place that decides whether a voucher can be redeemed now
and what it is worth. Pure decisions over unsaved rows: no database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from vouchers.models import Voucher, VoucherBatch
from vouchers.rules import (
    Refusal,
    voucher_face_value,
    voucher_redeem_refusal,
    voucher_status_refusal,
)

NOW = timezone.make_aware(dt.datetime(2026, 6, 1, 12, 0))
HOUR = dt.timedelta(hours=1)


def voucher(status="claimed", batch=None, **fields) -> Voucher:
    batch = batch or VoucherBatch(code="B", face_value=Decimal("10.00"))
    return Voucher(batch=batch, status=status, **fields)


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        ("redeemed", Refusal.REDEEMED),
        ("frozen", Refusal.FROZEN),
        ("void", Refusal.VOID),
        ("expired", Refusal.EXPIRED),
        ("claimed", None),
        ("available", Refusal.NOT_CLAIMED),
    ],
)
def test_the_status_decides_first(status, refusal):
    assert voucher_redeem_refusal(voucher(status), at=NOW) == refusal


def test_the_voucher_s_own_expiry_passing_is_expired_even_if_the_status_lags():
    late = voucher(expires_at=NOW)

    assert voucher_status_refusal(late, at=NOW) == Refusal.EXPIRED
    assert voucher_redeem_refusal(late, at=NOW) == Refusal.EXPIRED
    assert voucher_redeem_refusal(voucher(expires_at=NOW + HOUR), at=NOW) is None


def test_the_batch_window_counts_after_the_voucher_s_own_state():
    ended = VoucherBatch(code="E", valid_until=NOW)
    early = VoucherBatch(code="F", valid_from=NOW + HOUR)

    assert voucher_redeem_refusal(voucher(batch=ended), at=NOW) == Refusal.BATCH_ENDED
    assert voucher_redeem_refusal(voucher(batch=early), at=NOW) == Refusal.NOT_YET_VALID
    assert voucher_redeem_refusal(voucher("frozen", batch=ended), at=NOW) == Refusal.FROZEN
    # The voucher's own state only: a presentation token does not look at the batch.
    assert voucher_status_refusal(voucher(batch=ended), at=NOW) is None


def test_an_unclaimed_voucher_is_redeemable_only_where_the_batch_allows_it():
    printed = VoucherBatch(code="P", allow_unclaimed_redemption=True)

    assert voucher_redeem_refusal(voucher("available", batch=printed), at=NOW) is None
    assert voucher_redeem_refusal(voucher("available"), at=NOW) == Refusal.NOT_CLAIMED


def test_the_batch_passed_in_is_the_one_judged():
    other = VoucherBatch(code="O", valid_until=NOW)

    assert voucher_redeem_refusal(voucher(), batch=other, at=NOW) == Refusal.BATCH_ENDED


def test_face_value_is_the_voucher_s_own_else_the_batch_s():
    batch = VoucherBatch(code="B", face_value=Decimal("10.00"))

    assert voucher_face_value(voucher(batch=batch)) == Decimal("10.00")
    assert voucher_face_value(voucher(batch=batch, face_value=Decimal("0.00"))) == Decimal("0.00")
    assert voucher_face_value(voucher(batch=batch, face_value=Decimal("50.00"))) == Decimal("50.00")
    assert voucher_face_value(voucher(), batch) == Decimal("10.00")
