"""An event's round trips on PostgreSQL, after the partner's key: the member's row lock
with the earning rules for the event's kind (`member_lock_with_rules`, one SELECT … FOR
UPDATE), then the event, the lots and growth entries its rules gave, and the member's
summary (points, growth value, last event) in one statement with data-modifying CTEs
(`event_rows_write`), as the redemption path writes a voucher's UPDATE and its rows
(`vouchers/services/marks.py`). That statement also says whether a tier above the
member's is within reach of its growth value (the shortcut of `member_tier_evaluate`),
so an event that cannot move a tier needs nothing more. A daily cap's counter stays a
statement of its own between the two (`earning._within_daily_cap`): it must be read after
the lock, and what it leaves decides the lots.

SQLite has no data-modifying CTEs: `events.member_event_record` locks, reads the rules
and writes the same rows with the ORM there (and for refunds, whose take-back reads what
was written first).

Every value is a parameter; only names from the models and fixed fragments are formatted
into the SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db import connection, models
from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound

from ..models import EarningRule, GrowthEntry, Member, MemberEvent, PointsEntry, Tier
from .earning import Earned

# --- the lock, with the rules ------------------------------------------------------------

# What `rules_apply` reads of a rule (`updated_at` is left deferred); decimals as text, so
# they come back exact.
_RULE_FIELDS = [field for field in EarningRule._meta.concrete_fields if field.name != "updated_at"]
_RULE_DECIMALS = {field.attname for field in _RULE_FIELDS if isinstance(field, models.DecimalField)}
_LOCK_SQL: dict[str, str] = {}


def _lock_sql(key: str) -> str:
    """The lock statement, finding the member by `key` ("id" or "external_id")."""
    if key not in _LOCK_SQL:
        quote = connection.ops.quote_name
        member_columns = ", ".join(
            f"m.{quote(field.column)}" for field in Member._meta.concrete_fields
        )
        tier_columns = ", ".join(f"t.{quote(field.column)}" for field in Tier._meta.concrete_fields)
        rule_object = ", ".join(
            f"'{field.attname}', r.{quote(field.column)}"
            + ("::text" if field.attname in _RULE_DECIMALS else "")
            for field in _RULE_FIELDS
        )
        rules = (
            f"SELECT COALESCE(jsonb_agg(jsonb_build_object({rule_object}) ORDER BY r.code), "  # noqa: S608
            f"'[]'::jsonb) FROM {quote(EarningRule._meta.db_table)} r "
            "WHERE r.active AND r.event = %s"
        )
        # The rules as a LATERAL join, not a column: the statement reads as the member's
        # lock (its first FROM), and the parameters keep their order (kind, then key).
        _LOCK_SQL[key] = (
            f"SELECT {member_columns}, {tier_columns}, rules.list "  # noqa: S608
            f"FROM {quote(Member._meta.db_table)} m "
            f"LEFT JOIN {quote(Tier._meta.db_table)} t ON t.id = m.tier_id "
            f"CROSS JOIN LATERAL ({rules}) rules (list) "
            f"WHERE m.{quote(key)} = %s FOR UPDATE OF m"
        )
    return _LOCK_SQL[key]


def member_lock_with_rules(member: Member | str, kind: str) -> tuple[Member, list[EarningRule]]:
    """Lock and return the member row with its tier (as `points.member_lock` does: a
    Member or its external id; NotFound), and the active earning rules for `kind` in code
    order (`earning.rules_for_kind`), in one statement. The rules are not what the lock
    protects: reading them with it is reading them a moment earlier."""
    key, value = ("id", member.pk) if isinstance(member, Member) else ("external_id", member)
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(key), [kind, value])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No member with this external id."))
    alias = connection.alias
    member_fields = Member._meta.concrete_fields
    tier_fields = Tier._meta.concrete_fields
    locked = Member.from_db(
        alias, [field.attname for field in member_fields], row[: len(member_fields)]
    )
    tier_row = row[len(member_fields) : len(member_fields) + len(tier_fields)]
    tier = (
        Tier.from_db(alias, [field.attname for field in tier_fields], tier_row)
        if locked.tier_id is not None
        else None
    )
    Member.tier.field.set_cached_value(locked, tier)
    rules_json = row[-1]
    rules = [
        EarningRule.from_db(
            alias,
            [field.attname for field in _RULE_FIELDS],
            [_rule_value(field, data[field.attname]) for field in _RULE_FIELDS],
        )
        for data in (json.loads(rules_json) if isinstance(rules_json, str) else rules_json)
    ]
    return locked, rules


def _rule_value(field: models.Field, value: object) -> object:
    if value is not None and field.attname in _RULE_DECIMALS:
        return Decimal(value)
    return value


# --- the rows --------------------------------------------------------------------------

_COLUMNS: dict[type[models.Model], tuple[str, str, list[models.Field]]] = {}


def _columns(model: type[models.Model]) -> tuple[str, str, list[models.Field]]:
    """The model's columns except the primary key and `event` (taken from the inserted
    event), their casts and fields; built once per model."""
    cached = _COLUMNS.get(model)
    if cached is None:
        quote = connection.ops.quote_name
        fields = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name != "event"
        ]
        columns = ", ".join(quote(field.column) for field in fields)
        casts = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)
        cached = _COLUMNS[model] = (columns, casts, fields)
    return cached


def _values(row: models.Model, fields: list[models.Field]) -> list:
    """Each column's value as `save()` would prepare it (defaults, `auto_now_add`, JSON)."""
    return [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]


def _child_insert(model: type[models.Model], name: str, row: models.Model) -> tuple[str, list]:
    """`name AS (INSERT … SELECT <row>, event.id FROM event RETURNING id)`."""
    quote = connection.ops.quote_name
    columns, casts, fields = _columns(model)
    event_column = quote(model._meta.get_field("event").column)
    sql = (
        f"{name} AS (INSERT INTO {quote(model._meta.db_table)} ({columns}, {event_column}) "  # noqa: S608
        f"SELECT {casts}, event.id FROM event RETURNING id)"
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
    columns, casts, fields = _columns(MemberEvent)
    parts = [
        f"event AS (INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({casts}) RETURNING id)"
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
