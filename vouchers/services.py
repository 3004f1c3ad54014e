"""Voucher writes: batches, generation, claiming."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.locks import member_for_update
from members.selectors import member_get
from riskcontrol.actors import Actor
from riskcontrol.crypto import codec
from riskcontrol.errors import NotFound, ValidationFailed

from .codes import generate_codes
from .errors import BatchNotActive, InvalidTransition, LimitReached, SoldOut
from .models import Voucher, VoucherBatch, VoucherEvent
from .secrets import code_aad, code_index, reveal_code

MAX_GENERATED_QUANTITY = 1_000_000
GENERATION_CHUNK = 20_000
MAX_TRACE_BYTES = 2048


# --- Batches -----------------------------------------------------------------------------


BATCH_RULE_FIELDS = (
    "code",
    "kind",
    "value_type",
    "face_value",
    "percent_off",
    "max_discount",
    "min_order_amount",
    "valid_from",
    "valid_until",
    "valid_days",
    "per_member_limit",
    "quantity",
)


def voucher_batch_validate(
    *,
    code: str,
    kind: str,
    value_type: str,
    face_value: Decimal,
    percent_off: Decimal | None,
    max_discount: Decimal | None,
    min_order_amount: Decimal | None,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    valid_days: int | None,
    per_member_limit: int | None,
    quantity: int | None,
) -> None:
    """The rules a new batch must meet, per field (raises ValidationFailed). The admin
    form calls it to show the messages next to the fields."""
    errors: dict[str, list[str]] = {}
    VT = VoucherBatch.ValueType
    if VoucherBatch.objects.filter(code=code).exists():
        errors["code"] = [_("A batch with this code already exists.")]
    if kind not in VoucherBatch.Kind.values:
        errors["kind"] = [_("Unknown kind: %(kind)s") % {"kind": kind}]
    if value_type not in VT.values:
        errors["value_type"] = [_("Unknown value type: %(type)s") % {"type": value_type}]
    if face_value < 0:
        errors["face_value"] = [_("The face value cannot be negative.")]
    if value_type in (VT.CASH, VT.THRESHOLD) and face_value <= 0:
        errors["face_value"] = [_("A cash or threshold voucher needs a face value above 0.")]
    if value_type == VT.PERCENT and not (percent_off and 0 < percent_off < 100):
        errors["percent_off"] = [_("A percent voucher needs a percentage between 0 and 100.")]
    if value_type != VT.PERCENT and percent_off is not None:
        errors["percent_off"] = [_("Only percent vouchers have a percentage.")]
    if max_discount is not None and (value_type != VT.PERCENT or max_discount <= 0):
        errors["max_discount"] = [_("Only percent vouchers have a maximum discount (above 0).")]
    if value_type == VT.THRESHOLD and (min_order_amount is None or min_order_amount < face_value):
        errors["min_order_amount"] = [
            _("A spend-X-save-Y voucher needs a minimum order of at least its face value.")
        ]
    if valid_from and valid_until and valid_from >= valid_until:
        errors["valid_until"] = [_("The end must come after the start.")]
    if valid_days is not None and valid_days <= 0:
        errors["valid_days"] = [_("Enter a number of days above 0.")]
    if per_member_limit is not None and per_member_limit <= 0:
        errors["per_member_limit"] = [_("Enter a limit above 0, or leave it empty for none.")]
    if quantity is not None and not 0 < quantity <= MAX_GENERATED_QUANTITY:
        errors["quantity"] = [
            _("Generate between 1 and %(max)s vouchers per batch.")
            % {"max": f"{MAX_GENERATED_QUANTITY:,}"}
        ]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def voucher_batch_create(
    *,
    code: str,
    name: str,
    kind: str = VoucherBatch.Kind.COUPON,
    value_type: str = VoucherBatch.ValueType.CASH,
    face_value: Decimal = Decimal("0.00"),
    percent_off: Decimal | None = None,
    max_discount: Decimal | None = None,
    min_order_amount: Decimal | None = None,
    currency: str = "CNY",
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    valid_days: int | None = None,
    per_member_limit: int | None = 1,
    allow_unclaimed_redemption: bool = False,
    code_format: str | None = None,
    quantity: int | None = None,
    cost_per_voucher: Decimal | None = None,
    region: str = "",
    activate: bool = False,
    actor: Actor,
    generate: bool = True,
) -> VoucherBatch:
    """Create a batch. With `quantity`, its vouchers are generated in the background
    (`voucher_batch_generate`, enqueued after commit) and, with `activate`, the batch
    opens when they all exist. Without, it is an empty batch for card-stock imports.
    `generate=False` leaves generation to the caller (the CLI runs it inline)."""
    code = code.strip()
    voucher_batch_validate(
        code=code,
        kind=kind,
        value_type=value_type,
        face_value=face_value,
        percent_off=percent_off,
        max_discount=max_discount,
        min_order_amount=min_order_amount,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        per_member_limit=per_member_limit,
        quantity=quantity,
    )
    generated = bool(quantity)
    Fmt = VoucherBatch.CodeFormat
    batch = VoucherBatch.objects.create(
        code=code,
        name=name.strip(),
        kind=kind,
        value_type=value_type,
        face_value=face_value,
        percent_off=percent_off,
        max_discount=max_discount,
        min_order_amount=min_order_amount,
        currency=currency,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        per_member_limit=per_member_limit,
        allow_unclaimed_redemption=allow_unclaimed_redemption,
        code_format=code_format or (Fmt.CROCKFORD if generated else Fmt.EXACT),
        source=VoucherBatch.Source.GENERATED if generated else VoucherBatch.Source.IMPORTED,
        quantity=quantity or 0,
        generation=VoucherBatch.Generation.PENDING if generated else VoucherBatch.Generation.NONE,
        activate_when_generated=activate and generated,
        status=VoucherBatch.Status.ACTIVE
        if activate and not generated
        else VoucherBatch.Status.DRAFT,
        cost_per_voucher=cost_per_voucher,
        region=region,
        created_by_id=actor.user_id,
    )
    if generated and generate:
        from .tasks import voucher_batch_generate_task

        voucher_batch_generate_task.delay_on_commit(batch.pk)
    return batch


@transaction.atomic
def voucher_batch_activate(*, batch: VoucherBatch, actor: Actor) -> VoucherBatch:
    """Open a draft batch for claims. Locks the batch row; a generated batch must be
    complete first."""
    locked = VoucherBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != VoucherBatch.Status.DRAFT:
        raise InvalidTransition(
            _("Only a draft batch can be activated; this one is %(status)s.")
            % {"status": locked.get_status_display()}
        )
    if locked.source == VoucherBatch.Source.GENERATED and locked.generation != (
        VoucherBatch.Generation.DONE
    ):
        raise InvalidTransition(_("The batch is still being generated."))
    locked.status = VoucherBatch.Status.ACTIVE
    locked.save(update_fields=["status", "updated_at"])
    return locked


# --- Generation ----------------------------------------------------------------------------


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
                code_index(code),
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
    batch.generation = VoucherBatch.Generation.DONE
    if batch.activate_when_generated and batch.status == VoucherBatch.Status.DRAFT:
        batch.status = VoucherBatch.Status.ACTIVE
    batch.save(update_fields=["generation", "status", "updated_at"])
    return batch


# --- Events ------------------------------------------------------------------------------


def _event(
    *,
    voucher: Voucher,
    action: str,
    from_status: str,
    to_status: str,
    actor: Actor,
    channel: str = "",
    extra: dict | None = None,
) -> VoucherEvent:
    return VoucherEvent.objects.create(
        voucher=voucher,
        batch_id=voucher.batch_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_kind=actor.kind,
        actor_label=actor.label,
        user_id=actor.user_id,
        partner_client_id=actor.partner_client_id,
        channel=channel,
        context={**actor.context(), **(extra or {})},
    )


# --- Claiming ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    voucher: Voucher
    code: str


@transaction.atomic
def voucher_claim(
    *,
    batch_code: str,
    member_external_id: str,
    channel: str = "",
    trace: dict | None = None,
    actor: Actor,
) -> ClaimResult:
    """Give the member the next available voucher of the batch.

    Locks: the member's row when the batch has a per-member limit (so one member's
    concurrent claims count each other), then one available voucher row with
    SKIP LOCKED (filtered by batch_id, `of=self`: concurrent claims take different
    rows and never wait on each other or on the batch row). The UPDATE is conditional
    on status=available. Invariant: a voucher is held by at most one member, and a
    member holds at most `per_member_limit` vouchers of a batch.
    """
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
        member = member_for_update(external_id=member_external_id)
        held = Voucher.objects.filter(batch_id=batch.pk, member_id=member.pk).count()
        if held >= batch.per_member_limit:
            raise LimitReached(
                _("The member already holds %(held)d of at most %(limit)d.")
                % {"held": held, "limit": batch.per_member_limit}
            )
    else:
        member = member_get(external_id=member_external_id)

    voucher = (
        Voucher.objects.filter(batch_id=batch.pk, status=Voucher.Status.AVAILABLE)
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if voucher is None:
        raise SoldOut(_("Batch %(code)s has no voucher left.") % {"code": batch.code})

    expires_at = batch.expiry_for_claim_at(now)
    updated = Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.AVAILABLE).update(
        status=Voucher.Status.CLAIMED,
        member_id=member.pk,
        channel=channel,
        trace=trace,
        claimed_at=now,
        expires_at=expires_at,
    )
    if updated != 1:  # pragma: no cover - the row lock makes this impossible
        raise SoldOut()
    voucher.status, voucher.member, voucher.channel, voucher.trace = (
        Voucher.Status.CLAIMED,
        member,
        channel,
        trace,
    )
    voucher.claimed_at, voucher.expires_at, voucher.batch = now, expires_at, batch
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.CLAIM,
        from_status=Voucher.Status.AVAILABLE,
        to_status=Voucher.Status.CLAIMED,
        actor=actor,
        channel=channel,
    )
    return ClaimResult(voucher=voucher, code=reveal_code(voucher, batch))
