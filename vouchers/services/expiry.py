"""Expiry: vouchers past their `expires_at`, and batches past their end (the beat task
`vouchers_expire_due_task` runs it every few minutes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from riskcontrol.core.actors import Actor

from ..models import Voucher, VoucherBatch
from .events import _batch_event
from .transitions import EXPIRE, S, _apply


@dataclass(frozen=True)
class ExpiryReport:
    vouchers_expired: int
    batches_closed: int


def vouchers_expire_due(*, now: dt.datetime | None = None) -> ExpiryReport:
    """Expire vouchers past their `expires_at`, and close batches past their end together
    with their unclaimed vouchers. Chunked and idempotent: a second run finds nothing.
    Frozen vouchers stay frozen; they expire once unfrozen."""
    now = now or timezone.now()
    actor = Actor.system("expiry")
    expired = _apply(
        vouchers=Voucher.objects.filter(expires_at__lte=now),
        rule=EXPIRE,
        actor=actor,
        report_skipped=False,
    ).changed
    closed = 0
    ended = VoucherBatch.objects.filter(valid_until__lte=now).exclude(
        status=VoucherBatch.Status.CLOSED
    )
    for batch in ended:
        with transaction.atomic():
            if (
                VoucherBatch.objects.filter(pk=batch.pk)
                .exclude(status=VoucherBatch.Status.CLOSED)
                .update(status=VoucherBatch.Status.CLOSED, updated_at=now)
            ):
                _batch_event(batch=batch, action="close", detail="validity ended", actor=actor)
                closed += 1
    ended_with_stock = VoucherBatch.objects.filter(
        valid_until__lte=now, vouchers__status=S.AVAILABLE
    ).distinct()
    for batch in ended_with_stock:
        expired += _apply(
            vouchers=batch.vouchers.filter(status=S.AVAILABLE),
            rule=EXPIRE,
            actor=actor,
            report_skipped=False,
        ).changed
    return ExpiryReport(vouchers_expired=expired, batches_closed=closed)
