"""Voucher writes: batches, generation, claiming."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.locks import member_for_update
from members.selectors import member_get
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.spreadsheets import spreadsheet_safe
from riskcontrol.crypto import codec

from .codes import format_code, generate_codes
from .errors import (
    BatchNotActive,
    InvalidTransition,
    LimitReached,
    SoldOut,
    VoucherFrozen,
    VoucherVoid,
)
from .models import BatchEvent, CardStockImport, Voucher, VoucherBatch, VoucherEvent
from .secrets import code_aad, folded_code_index, reveal_code
from .statistics import analyze_vouchers

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
    "code_format",
)


def voucher_batch_code_format(*, kind: str, generated: bool) -> str:
    """The code format a new batch gets unless told otherwise: card secrets (third-party
    codes) are kept exactly as delivered; codes we generate are read the Crockford way."""
    if kind == VoucherBatch.Kind.CARD_SECRET or not generated:
        return VoucherBatch.CodeFormat.EXACT
    return VoucherBatch.CodeFormat.CROCKFORD


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
    code_format: str | None = None,
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
    if code_format and code_format not in VoucherBatch.CodeFormat.values:
        errors["code_format"] = [_("Unknown code format: %(format)s") % {"format": code_format}]
    elif kind == VoucherBatch.Kind.CARD_SECRET and code_format not in (
        None,
        "",
        VoucherBatch.CodeFormat.EXACT,
    ):
        # Folding (O->0, I/L->1, case, dashes) would turn a supplier's code into one the
        # supplier does not know.
        errors["code_format"] = [
            _(
                "Card secrets are kept exactly as the supplier delivered them: a card-secret "
                "batch's code format is always “exact”."
            )
        ]
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
        code_format=code_format,
    )
    generated = bool(quantity)
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
        code_format=code_format or voucher_batch_code_format(kind=kind, generated=generated),
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
    _batch_event(batch=batch, action="create", detail=batch.status, actor=actor)
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
    _batch_event(batch=locked, action="activate", detail="", actor=actor)
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

    Locks: the member's row when the batch has a per-member limit (read together with
    how many of the batch it holds, so one member's concurrent claims count each
    other), then one available voucher row with SKIP LOCKED (`_take_next_available`).
    No counter row, no lock on the batch row. Invariant: a voucher is held by at most
    one member, and a member holds at most `per_member_limit` vouchers of a batch.
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
        # Count in a statement of its own, after the lock: under READ COMMITTED a count
        # computed in the locking statement would use the snapshot from before the wait
        # and miss the voucher a concurrent claim of this member just committed.
        member = member_for_update(external_id=member_external_id)
        held = Voucher.objects.filter(batch_id=batch.pk, member_id=member.pk).count()
        if held >= batch.per_member_limit:
            raise LimitReached(
                _("The member already holds %(held)d of at most %(limit)d.")
                % {"held": held, "limit": batch.per_member_limit}
            )
    else:
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


# --- Lifecycle -----------------------------------------------------------------------------
#
# Every voucher transition is a conditional UPDATE (WHERE status IN <allowed>) plus one
# VoucherEvent per voucher, applied chunk by chunk of ids: lock the chunk's rows, write
# the events with INSERT ... SELECT, update. Nothing is loaded into Python, so freezing a
# million vouchers is a few statements per 20,000 rows, and a voucher that changed in
# between (claimed, redeemed) is simply not in the allowed set any more.

LIFECYCLE_CHUNK = 20_000
S = Voucher.Status
KEEP_STATUS = "="  # an event that records without changing the status (a reveal)


@dataclass(frozen=True)
class TransitionRule:
    action: str
    from_statuses: tuple[str, ...]
    to_status: str | None  # None: back to the status the voucher had before it was frozen

    def update_values(self) -> dict:
        if self.to_status is None:
            return {"status": models.F("frozen_from"), "frozen_from": ""}
        if self.to_status == S.FROZEN:
            return {"status": S.FROZEN, "frozen_from": models.F("status")}
        return {"status": self.to_status, "frozen_from": ""}


FREEZE = TransitionRule(VoucherEvent.Action.FREEZE, (S.AVAILABLE, S.CLAIMED), S.FROZEN)
UNFREEZE = TransitionRule(VoucherEvent.Action.UNFREEZE, (S.FROZEN,), None)
VOID = TransitionRule(
    VoucherEvent.Action.VOID, (S.AVAILABLE, S.CLAIMED, S.FROZEN, S.EXPIRED), S.VOID
)
EXPIRE = TransitionRule(VoucherEvent.Action.EXPIRE, (S.AVAILABLE, S.CLAIMED), S.EXPIRED)


@dataclass(frozen=True)
class TransitionReport:
    changed: int
    skipped: dict[str, int]  # status -> how many were left alone because of it

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def _lock_rows(chunk: models.QuerySet) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: the IMMEDIATE transaction already holds the write lock
    sql, params = chunk.select_for_update(of=("self",)).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS locked", params)  # noqa: S608


def _insert_events(chunk: models.QuerySet, rule: TransitionRule, actor: Actor, extra: dict) -> None:
    sql, params = chunk.values("id").query.sql_with_params()
    if rule.to_status is None:
        to_status_sql = "v.frozen_from"
    elif rule.to_status == KEEP_STATUS:
        to_status_sql = "v.status"
    else:
        to_status_sql = "%s"
    context_sql = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    # Only fixed SQL fragments are formatted in; every value is a parameter.
    statement = (
        "INSERT INTO vouchers_voucherevent (voucher_id, batch_id, action, from_status,"  # noqa: S608
        " to_status, actor_kind, actor_label, user_id, partner_client_id, channel, context,"
        " created_at)"
        f" SELECT v.id, v.batch_id, %s, v.status, {to_status_sql}, %s, %s, %s, %s, '',"
        f" {context_sql}, %s FROM vouchers_voucher v WHERE v.id IN ({sql})"
    )
    values = [rule.action]
    if rule.to_status not in (None, KEEP_STATUS):
        values.append(rule.to_status)
    values += [
        actor.kind,
        actor.label,
        actor.user_id,
        actor.partner_client_id,
        json.dumps({**actor.context(), **extra}, ensure_ascii=False),
        timezone.now(),
        *params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, values)


def _apply(
    *,
    vouchers: models.QuerySet,
    rule: TransitionRule,
    actor: Actor,
    extra: dict | None = None,
    chunk_size: int = LIFECYCLE_CHUNK,
    report_skipped: bool = True,
) -> TransitionReport:
    """Apply `rule` to the vouchers of `vouchers` that are in an allowed status; report
    how many changed and (unless told not to) how many were skipped, by status."""
    skipped = (
        dict(
            vouchers.exclude(status__in=rule.from_statuses)
            .values_list("status")
            .annotate(n=models.Count("id"))
            .order_by()
        )
        if report_skipped
        else {}
    )
    candidates = vouchers.filter(status__in=rule.from_statuses)
    bounds = candidates.aggregate(lo=models.Min("id"), hi=models.Max("id"))
    changed = 0
    if bounds["lo"] is not None:
        low = bounds["lo"]
        while low <= bounds["hi"]:
            with transaction.atomic():
                chunk = candidates.filter(id__gte=low, id__lt=low + chunk_size)
                _lock_rows(chunk)
                _insert_events(chunk, rule, actor, extra or {})
                changed += chunk.update(**rule.update_values())
            low += chunk_size
    return TransitionReport(changed=changed, skipped=skipped)


def _apply_one(*, voucher: Voucher, rule: TransitionRule, actor: Actor, reason: str) -> Voucher:
    report = _apply(
        vouchers=Voucher.objects.filter(pk=voucher.pk),
        rule=rule,
        actor=actor,
        extra={"reason": reason} if reason else None,
    )
    current = Voucher.objects.select_related("batch").get(pk=voucher.pk)
    if report.changed != 1:
        raise InvalidTransition(
            _("Voucher %(serial)s is %(status)s; it cannot be %(action)s.")
            % {
                "serial": current.serial,
                "status": current.get_status_display(),
                "action": VoucherEvent.Action(rule.action).label,
            }
        )
    return current


def voucher_freeze(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    """Block one available or claimed voucher; unfreezing returns it to that status."""
    return _apply_one(voucher=voucher, rule=FREEZE, actor=actor, reason=reason)


def voucher_unfreeze(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    return _apply_one(voucher=voucher, rule=UNFREEZE, actor=actor, reason=reason)


def voucher_void(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    """Cancel a voucher for good (a redeemed one stays redeemed)."""
    return _apply_one(voucher=voucher, rule=VOID, actor=actor, reason=reason)


def vouchers_freeze(
    *, vouchers: models.QuerySet, actor: Actor, reason: str = ""
) -> TransitionReport:
    return _apply(vouchers=vouchers, rule=FREEZE, actor=actor, extra=_reason(reason))


def vouchers_unfreeze(
    *, vouchers: models.QuerySet, actor: Actor, reason: str = ""
) -> TransitionReport:
    return _apply(vouchers=vouchers, rule=UNFREEZE, actor=actor, extra=_reason(reason))


def vouchers_void(*, vouchers: models.QuerySet, actor: Actor, reason: str = "") -> TransitionReport:
    return _apply(vouchers=vouchers, rule=VOID, actor=actor, extra=_reason(reason))


def _reason(reason: str) -> dict:
    return {"reason": reason} if reason else {}


# --- Batch lifecycle -----------------------------------------------------------------------

_BATCH_MOVES = {
    "pause": ((VoucherBatch.Status.ACTIVE,), VoucherBatch.Status.PAUSED),
    "resume": ((VoucherBatch.Status.PAUSED,), VoucherBatch.Status.ACTIVE),
    "close": (
        (VoucherBatch.Status.DRAFT, VoucherBatch.Status.ACTIVE, VoucherBatch.Status.PAUSED),
        VoucherBatch.Status.CLOSED,
    ),
}


_BATCH_MOVE_LABELS = {
    "pause": gettext_lazy("paused"),
    "resume": gettext_lazy("resumed"),
    "close": gettext_lazy("closed"),
}


def _batch_event(
    *, batch: VoucherBatch, action: str, detail: str, actor: Actor, extra: dict | None = None
) -> None:
    BatchEvent.objects.create(
        batch=batch,
        action=action,
        detail=detail[:255],
        actor_kind=actor.kind,
        actor_label=actor.label,
        user_id=actor.user_id,
        context={**actor.context(), **(extra or {})},
    )


@transaction.atomic
def _batch_move(*, batch: VoucherBatch, move: str, actor: Actor, reason: str) -> VoucherBatch:
    allowed, target = _BATCH_MOVES[move]
    updated = VoucherBatch.objects.filter(pk=batch.pk, status__in=allowed).update(
        status=target, updated_at=timezone.now()
    )
    current = VoucherBatch.objects.get(pk=batch.pk)
    if not updated:
        raise InvalidTransition(
            _("Batch %(code)s is %(status)s; it cannot be %(move)s.")
            % {
                "code": current.code,
                "status": current.get_status_display(),
                "move": _BATCH_MOVE_LABELS[move],
            }
        )
    _batch_event(batch=current, action=move, detail=reason, actor=actor)
    return current


def voucher_batch_pause(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    """Stop claims for now (active -> paused)."""
    return _batch_move(batch=batch, move="pause", actor=actor, reason=reason)


def voucher_batch_resume(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    return _batch_move(batch=batch, move="resume", actor=actor, reason=reason)


def voucher_batch_close(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> VoucherBatch:
    """No more claims, for good. Vouchers already held stay usable until they expire."""
    return _batch_move(batch=batch, move="close", actor=actor, reason=reason)


def voucher_batch_freeze(
    *, batch: VoucherBatch, actor: Actor, reason: str = ""
) -> TransitionReport:
    """Stop a leak: the batch takes no claims and every available or claimed voucher is
    frozen (each remembers its status for unfreezing)."""
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(frozen=True, updated_at=timezone.now())
        _batch_event(batch=batch, action="freeze", detail=reason, actor=actor)
    return _apply(vouchers=batch.vouchers.all(), rule=FREEZE, actor=actor, extra=_reason(reason))


def voucher_batch_unfreeze(
    *, batch: VoucherBatch, actor: Actor, reason: str = ""
) -> TransitionReport:
    report = _apply(
        vouchers=batch.vouchers.all(), rule=UNFREEZE, actor=actor, extra=_reason(reason)
    )
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(frozen=False, updated_at=timezone.now())
        _batch_event(batch=batch, action="unfreeze", detail=reason, actor=actor)
    return report


def voucher_batch_void(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> TransitionReport:
    """Close the batch and void every voucher that is not redeemed."""
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(
            status=VoucherBatch.Status.CLOSED, frozen=False, updated_at=timezone.now()
        )
        _batch_event(batch=batch, action="void", detail=reason, actor=actor)
    return _apply(vouchers=batch.vouchers.all(), rule=VOID, actor=actor, extra=_reason(reason))


def card_stock_import_void(
    *, import_job: CardStockImport, actor: Actor, reason: str = ""
) -> TransitionReport:
    """Void every voucher that came from one import file (a compromised file)."""
    _batch_event(
        batch=import_job.batch,
        action="void_import",
        detail=f"{import_job.file_name}: {reason}",
        actor=actor,
    )
    return _apply(
        vouchers=import_job.vouchers.all(),
        rule=VOID,
        actor=actor,
        extra={**_reason(reason), "import_job": import_job.pk},
    )


# --- Expiry ---------------------------------------------------------------------------------


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


# --- Reveal ---------------------------------------------------------------------------------


@transaction.atomic
def voucher_reveal(
    *, voucher: Voucher, actor: Actor, reason: str = "", for_partner: bool = False
) -> str:
    """The voucher's code, recorded as a reveal event (who, when, why).

    An unclaimed card secret is never revealed: seeing it would count as delivering it,
    and a delivered card secret must not go back to stock (void it first). A partner
    cannot reveal a frozen or void voucher. Locks the voucher row.
    """
    locked = (
        Voucher.objects.select_for_update(of=("self",)).select_related("batch").get(pk=voucher.pk)
    )
    if locked.batch.kind == VoucherBatch.Kind.CARD_SECRET and locked.status == S.AVAILABLE:
        raise InvalidTransition(
            _(
                "An unclaimed card secret cannot be revealed: it would count as delivered. "
                "Void it first if it must be inspected."
            )
        )
    if for_partner and locked.status == S.FROZEN:
        raise VoucherFrozen()
    if for_partner and locked.status == S.VOID:
        raise VoucherVoid()
    if actor.kind == "user" and not reason.strip():
        raise ValidationFailed({"reason": [_("Say why the code is needed.")]})
    _event(
        voucher=locked,
        action=VoucherEvent.Action.REVEAL,
        from_status=locked.status,
        to_status=locked.status,
        actor=actor,
        extra=_reason(reason.strip()),
    )
    return reveal_code(locked, locked.batch)


# --- Key rotation ---------------------------------------------------------------------------


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


# --- Redemption marks (the redemption app owns redemptions; these move the voucher) --------


def voucher_mark_redeemed(
    *, voucher: Voucher, actor: Actor, at: dt.datetime, context: dict | None = None
) -> Voucher:
    """claimed (or, for batches that allow it, available) -> redeemed, with its event.
    The caller holds the voucher's row lock (`vouchers.locks.voucher_for_update`) and has
    checked the rules; the UPDATE is still conditional on the status it saw."""
    from_status = voucher.status
    updated = Voucher.objects.filter(
        pk=voucher.pk, status__in=(S.CLAIMED, S.AVAILABLE), status=from_status
    ).update(status=S.REDEEMED, redeemed_at=at)
    if updated != 1:
        raise InvalidTransition()
    voucher.status, voucher.redeemed_at = S.REDEEMED, at
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.REDEEM,
        from_status=from_status,
        to_status=S.REDEEMED,
        actor=actor,
        extra=context,
    )
    return voucher


def voucher_mark_unredeemed(
    *, voucher: Voucher, to_status: str, actor: Actor, context: dict | None = None
) -> Voucher:
    """redeemed -> the status it had before (a reversal). A card secret that was never
    claimed was delivered by its redemption: it goes to void, never back to stock."""
    if voucher.batch.kind == VoucherBatch.Kind.CARD_SECRET and to_status == S.AVAILABLE:
        to_status = S.VOID
    updated = Voucher.objects.filter(pk=voucher.pk, status=S.REDEEMED).update(
        status=to_status, redeemed_at=None
    )
    if updated != 1:
        raise InvalidTransition()
    voucher.status, voucher.redeemed_at = to_status, None
    _event(
        voucher=voucher,
        action=VoucherEvent.Action.REVERSE,
        from_status=S.REDEEMED,
        to_status=to_status,
        actor=actor,
        extra=context,
    )
    return voucher


# --- Export with codes ------------------------------------------------------------------


def vouchers_export_codes(
    *, vouchers: models.QuerySet, actor: Actor, reason: str
) -> Iterator[list[str]]:
    """Rows (serial, supplier serial, code, status, expires at) of `vouchers`, codes in
    clear, for an operator holding `vouchers.export_secrets`. Every voucher exported is
    recorded first as a reveal event with the reason, set-based."""
    if not reason.strip():
        raise ValidationFailed({"reason": [_("Say why the codes are exported.")]})
    everything = TransitionRule(VoucherEvent.Action.REVEAL, tuple(S.values), KEEP_STATUS)
    with transaction.atomic():  # no lock: a reveal changes nothing it could race with
        _insert_events(
            vouchers.all(), everything, actor, {"reason": reason.strip(), "export": True}
        )
    sealer = codec()
    yield ["serial", "supplier_serial", "code", "status", "expires_at"]
    rows = vouchers.select_related("batch").order_by("batch_id", "sequence")
    for voucher in rows.iterator(chunk_size=2000):
        code = format_code(
            sealer.decrypt(
                voucher.secret_ciphertext, aad=code_aad(voucher.batch.code, voucher.serial)
            ),
            voucher.batch.code_format,
        )
        yield [
            spreadsheet_safe(voucher.serial),
            spreadsheet_safe(voucher.supplier_serial),
            spreadsheet_safe(code),
            voucher.status,
            timezone.localtime(voucher.expires_at).isoformat() if voucher.expires_at else "",
        ]
