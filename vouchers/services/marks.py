"""Redemption marks: the redemption app owns redemptions; these move the voucher
(claimed or available -> redeemed, and back on a reversal) with their events."""

from __future__ import annotations

import datetime as dt

from django.db import connections, models, router

from riskcontrol.core.actors import Actor

from ..errors import InvalidTransition
from ..models import Voucher, VoucherBatch, VoucherEvent
from .events import _event, _event_row

S = Voucher.Status


_inserts: dict[tuple, tuple[str, list]] = {}


def _insert_when(row: models.Model, source: str, connection) -> tuple[str, list]:
    """`INSERT` of the unsaved `row`, one row per row of the CTE `source` (so none when
    it has none): every column prepared as `save()` would (defaults, `auto_now_add`,
    JSON) and cast to its column type. The SQL text is built once per model."""
    key = (type(row), source, connection.alias)
    cached = _inserts.get(key)
    if cached is None:
        meta = row._meta
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        quote = connection.ops.quote_name
        casts = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)
        columns = ", ".join(quote(field.column) for field in fields)
        # Only names from the model and fixed fragments are formatted in; values are parameters.
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {casts} FROM {source} "  # noqa: S608
            f"RETURNING {quote(meta.pk.column)}"
        )
        cached = _inserts[key] = (sql, fields)
    sql, fields = cached
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    return sql, values


def voucher_mark_redeemed(
    *,
    voucher: Voucher,
    actor: Actor,
    at: dt.datetime,
    context: dict | None = None,
    record: models.Model | None = None,
) -> Voucher:
    """claimed (or, for batches that allow it, available) -> redeemed, with its event.
    The caller holds the voucher's row lock (`vouchers.locks.voucher_for_update`) and has
    checked the rules; the UPDATE is still conditional on the status it saw.

    The UPDATE, the event and `record` (the caller's unsaved row of the same fact, e.g.
    the redemption) are one statement, one round trip: the two rows are inserted only if
    the UPDATE matched, and `record` gets its primary key."""
    from_status = voucher.status
    event = _event_row(
        voucher=voucher,
        action=VoucherEvent.Action.REDEEM,
        from_status=from_status,
        to_status=S.REDEEMED,
        actor=actor,
        extra=context,
    )
    rows = [event] if record is None else [event, record]
    connection = connections[router.db_for_write(Voucher)]
    if connection.vendor != "postgresql":  # SQLite: no UPDATE inside WITH; three statements
        return _mark_redeemed_stepwise(voucher=voucher, at=at, rows=rows)
    quote = connection.ops.quote_name
    table, status, redeemed_at, pk = (
        quote(Voucher._meta.db_table),
        quote(Voucher._meta.get_field("status").column),
        quote(Voucher._meta.get_field("redeemed_at").column),
        quote(Voucher._meta.pk.column),
    )
    # Names from the model and fixed fragments formatted in; every value a parameter.
    parts = [
        f"changed AS (UPDATE {table} SET {status} = %s, {redeemed_at} = %s "  # noqa: S608
        f"WHERE {pk} = %s AND {status} = %s AND {status} IN (%s, %s) RETURNING {pk})"
    ]
    params: list = [S.REDEEMED, at, voucher.pk, from_status, S.CLAIMED, S.AVAILABLE]
    for number, row in enumerate(rows):
        sql, values = _insert_when(row, "changed", connection)
        parts.append(f"row{number} AS ({sql})")
        params += values
    selects = ", ".join(
        f"(SELECT {quote(row._meta.pk.column)} FROM row{number})"  # noqa: S608
        for number, row in enumerate(rows)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {selects}", params)
        ids = cursor.fetchone()
    if ids[0] is None:
        raise InvalidTransition()
    for row, row_id in zip(rows, ids, strict=True):
        row.pk = row_id
        row._state.adding, row._state.db = False, connection.alias
    voucher.status, voucher.redeemed_at = S.REDEEMED, at
    return voucher


def _mark_redeemed_stepwise(*, voucher: Voucher, at: dt.datetime, rows: list) -> Voucher:
    from_status = voucher.status
    updated = Voucher.objects.filter(
        pk=voucher.pk, status__in=(S.CLAIMED, S.AVAILABLE), status=from_status
    ).update(status=S.REDEEMED, redeemed_at=at)
    if updated != 1:
        raise InvalidTransition()
    for row in rows:
        row.save(force_insert=True)
    voucher.status, voucher.redeemed_at = S.REDEEMED, at
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
