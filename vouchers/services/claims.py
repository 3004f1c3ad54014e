"""Claiming: giving a member the next available voucher of a batch (one short
transaction, SKIP LOCKED on the voucher row, the member's row locked for a limit)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from members.locks import member_for_update
from members.models import Member
from members.selectors import member_get
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.transactions import in_joined_transaction

from ..errors import BatchNotActive, LimitReached, SoldOut
from ..models import Voucher, VoucherBatch, VoucherEvent
from ..secrets import reveal_code
from .events import _event

MAX_TRACE_BYTES = 2048


_TAKE_NEXT_AVAILABLE = (
    "UPDATE vouchers_voucher SET status = 'claimed', member_id = %s, channel = %s,"
    " trace = CAST(%s AS jsonb), claimed_at = %s, expires_at = LEAST(expires_at, %s)"
    " WHERE status = 'available' AND id = ("
    "  SELECT id FROM vouchers_voucher WHERE batch_id = %s AND status = 'available'"
    "  ORDER BY sequence LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, sequence, serial, secret_ciphertext, key_id, face_value, expires_at"
)


def _take_next_available(
    *,
    batch: VoucherBatch,
    member,
    channel: str,
    trace: dict,
    now: dt.datetime,
    expires_at: dt.datetime | None,
) -> Voucher | None:
    """Mark the batch's next available voucher claimed; None when there is none.

    The pick filters by batch_id alone, orders by sequence (served by the partial index
    `voucher_available_idx` on (batch_id, sequence) WHERE available — ordering by id
    let the planner walk the primary key over every claimed row instead), and takes its
    row lock with SKIP LOCKED, so concurrent claims take different rows and never wait.
    `expires_at` (the batch's rule) may shorten the voucher's own expiry (an imported
    voucher's, from the file), never erase or extend it: the earlier of the two is kept.
    On PostgreSQL pick and mark are one statement (UPDATE ... WHERE id = (SELECT ... FOR
    UPDATE SKIP LOCKED) RETURNING); elsewhere the same two steps run separately.
    """
    fields = {
        "status": Voucher.Status.CLAIMED,
        "member": member,
        "channel": channel,
        "trace": trace,
        "claimed_at": now,
        "expires_at": expires_at,
        "batch": batch,
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _TAKE_NEXT_AVAILABLE,
                [member.pk, channel, json.dumps(trace), now, expires_at, batch.pk],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        pk, sequence, serial, ciphertext, key_id, face_value, kept_expiry = row
        return Voucher(
            pk=pk,
            sequence=sequence,
            serial=serial,
            secret_ciphertext=ciphertext,
            key_id=key_id,
            face_value=face_value,
            **{**fields, "expires_at": kept_expiry},
        )
    voucher = (
        Voucher.objects.filter(batch_id=batch.pk, status=Voucher.Status.AVAILABLE)
        .order_by("sequence")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if voucher is None:
        return None
    fields["expires_at"] = _earlier(voucher.expires_at, expires_at)
    updates = {key: value for key, value in fields.items() if key != "batch"}
    updated = Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.AVAILABLE).update(
        **updates
    )
    if updated != 1:  # pragma: no cover - the row lock makes this impossible
        return None
    for key, value in fields.items():
        setattr(voucher, key, value)
    return voucher


def _earlier(first: dt.datetime | None, second: dt.datetime | None) -> dt.datetime | None:
    """The earlier of two expiries, None meaning none (SQL's LEAST)."""
    if first is None or second is None:
        return first or second
    return min(first, second)


@dataclass(frozen=True)
class ClaimResult:
    voucher: Voucher
    code: str


@in_joined_transaction
def voucher_claim(
    *,
    batch_code: str = "",
    batch: VoucherBatch | None = None,
    member_external_id: str = "",
    member: Member | None = None,
    channel: str = "",
    trace: dict | None = None,
    actor: Actor,
) -> ClaimResult:
    """Give the member the next available voucher of the batch.

    Locks: the member's row when the batch has a per-member limit (read together with
    how many of the batch it holds, so one member's concurrent claims count each
    other), then one available voucher row with SKIP LOCKED (`_take_next_available`).
    No counter row, no lock on the batch row. Invariant: a voucher is held by at most
    one member, and a member holds at most `per_member_limit` vouchers of a batch.
    A caller that has read the batch and the member rows already in its transaction (a
    benefit grant, under the member's lock) passes `batch` and `member` instead of their
    codes, and they are not read again. Every refusal is raised before the first write,
    so inside a caller's transaction the claim joins it without a savepoint.
    """
    if batch is None:
        batch = VoucherBatch.objects.filter(code=batch_code).first()
    if batch is None:
        raise NotFound(_("No batch with this code."))
    now = timezone.now()
    if not batch.is_claimable_at(now):
        raise BatchNotActive(
            _("Batch %(code)s is %(status)s or outside its validity window.")
            % {"code": batch.code, "status": batch.get_status_display()}
        )
    trace = trace or {}
    if len(str(trace).encode()) > MAX_TRACE_BYTES:
        raise ValidationFailed({"trace": [_("Keep the trace under 2 KB.")]})

    if batch.per_member_limit:
        # Count in a statement of its own, after the lock: under READ COMMITTED a count
        # computed in the locking statement would use the snapshot from before the wait
        # and miss the voucher a concurrent claim of this member just committed.
        member = member_for_update(
            external_id=member.external_id if member is not None else member_external_id
        )
        held = Voucher.objects.filter(batch_id=batch.pk, member_id=member.pk).count()
        if held >= batch.per_member_limit:
            raise LimitReached(
                _("The member already holds %(held)d of at most %(limit)d.")
                % {"held": held, "limit": batch.per_member_limit}
            )
    elif member is None:
        member = member_get(external_id=member_external_id)

    expires_at = batch.expiry_for_claim_at(now)
    voucher = _take_next_available(
        batch=batch, member=member, channel=channel, trace=trace, now=now, expires_at=expires_at
    )
    if voucher is None:
        raise SoldOut(_("Batch %(code)s has no voucher left.") % {"code": batch.code})
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.CLAIM,
        from_status=Voucher.Status.AVAILABLE,
        to_status=Voucher.Status.CLAIMED,
        actor=actor,
        channel=channel,
    )
    return ClaimResult(voucher=voucher, code=reveal_code(voucher, batch))
