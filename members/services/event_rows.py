"""An event's rows in one statement (PostgreSQL): the event, the lots and growth entries
its earning rules gave, and the member's summary (points, growth value, last event),
written with data-modifying CTEs in one round trip, as the redemption path writes a
voucher's UPDATE and its rows (`vouchers/services/marks.py`). The same statement says
whether a tier above the member's could be reached by the growth value now held (the
shortcut of `member_tier_evaluate`), so an event that cannot move a tier needs nothing
more.

SQLite has no data-modifying CTEs: `events.member_event_record` writes the same rows with
the ORM there (and for refunds, whose take-back reads what was written first).

Callers hold the member's row lock; every value is a parameter, only names from the
models and fixed fragments are formatted into the SQL.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, models

from ..models import GrowthEntry, Member, MemberEvent, PointsEntry, Tier
from .earning import Earned

_COLUMNS: dict[type[models.Model], tuple[str, list[models.Field]]] = {}


def _columns(model: type[models.Model]) -> tuple[str, list[models.Field]]:
    """The model's columns except the primary key and `event` (taken from the inserted
    event), and their casts; built once per model."""
    cached = _COLUMNS.get(model)
    if cached is None:
        quote = connection.ops.quote_name
        fields = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name != "event"
        ]
        columns = ", ".join(quote(field.column) for field in fields)
        cached = _COLUMNS[model] = (columns, fields)
    return cached


def _casts(fields: list[models.Field]) -> str:
    return ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)


def _values(row: models.Model, fields: list[models.Field]) -> list:
    """Each column's value as `save()` would prepare it (defaults, `auto_now_add`, JSON)."""
    return [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]


def _child_insert(model: type[models.Model], name: str, row: models.Model) -> tuple[str, list]:
    """`name AS (INSERT … SELECT <row>, event.id FROM event RETURNING id)`."""
    quote = connection.ops.quote_name
    columns, fields = _columns(model)
    event_column = quote(model._meta.get_field("event").column)
    sql = (
        f"{name} AS (INSERT INTO {quote(model._meta.db_table)} ({columns}, {event_column}) "  # noqa: S608
        f"SELECT {_casts(fields)}, event.id FROM event RETURNING id)"
    )
    return sql, _values(row, fields)


def event_rows_write(
    *, event: MemberEvent, earned: Earned, member: Member, now: dt.datetime
) -> bool:
    """Insert `event` (unsaved) with `earned`'s lots and growth entries and add their
    totals to the (locked) member row, with `last_event_at` and `updated_at`, in one
    statement. Sets the primary keys. Returns whether a tier above the member's is within
    reach of its growth value (this event's included); False when the event gave no
    growth. A repeated event id fails on its unique constraint (IntegrityError) and
    writes nothing."""
    quote = connection.ops.quote_name
    meta = MemberEvent._meta
    columns, fields = _columns(MemberEvent)
    parts = [
        f"event AS (INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({_casts(fields)}) RETURNING id)"
    ]
    params: list = _values(event, fields)
    children = [
        *((PointsEntry, f"lot{number}", lot) for number, lot in enumerate(earned.lots)),
        *(
            (GrowthEntry, f"growth{number}", row)
            for number, row in enumerate(earned.growth_entries)
        ),
    ]
    for model, name, row in children:
        sql, values = _child_insert(model, name, row)
        parts.append(sql)
        params += values
    member_table = quote(Member._meta.db_table)
    parts.append(
        f"summary AS (UPDATE {member_table} SET points = points + %s, "  # noqa: S608
        "growth_value = growth_value + %s, last_event_at = %s, updated_at = %s "
        "WHERE id = %s RETURNING id)"
    )
    params += [earned.points, earned.growth, event.occurred_at, now, member.pk]
    # An upper bound of qualifying growth is the growth value held; a tier above the
    # member's that even it does not reach cannot be reached (see member_tier_evaluate).
    reach = "FALSE"
    if earned.growth > 0:
        tier_table = quote(Tier._meta.db_table)
        reach = f"EXISTS (SELECT 1 FROM {tier_table} WHERE threshold <= %s"  # noqa: S608
        # The bound as member_tier_evaluate is given it by the ORM path (this event's
        # growth is in `member.growth_value` already and counted once more: a looser bound,
        # never a missed upgrade).
        params.append(member.growth_value + earned.growth)
        if member.tier_id is not None:
            reach += " AND rank > %s"
            params.append(member.tier.rank)
        reach += ")"
    selects = ", ".join(
        ["event.id", *(f"(SELECT id FROM {name})" for _m, name, _r in children)]  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(parts)} SELECT {reach}, {selects} FROM event, summary",  # noqa: S608
            params,
        )
        reachable, event_id, *child_ids = cursor.fetchone()
    event.pk = event_id
    for (_model, _name, row), row_id in zip(children, child_ids, strict=True):
        row.pk, row.event = row_id, event
    for row in (event, *(row for _m, _n, row in children)):
        row._state.adding, row._state.db = False, connection.alias
    return reachable
