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
from riskcontrol.core.rawsql import from_row, select_list

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
            f"SELECT {select_list(Member, 'm')}, {select_list(Tier, 't')}, rules.list "  # noqa: S608
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
    locked, offset = from_row(Member, row)
    tier, _end = from_row(Tier, row, offset)
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

_COLUMNS: dict[type[models.Model], tuple[str, list[models.Field], list[str]]] = {}


def _columns(model: type[models.Model]) -> tuple[str, list[models.Field], list[str]]:
    """The model's columns except the primary key and `event` (taken from the inserted
    event), their fields and casts; built once per model."""
    cached = _COLUMNS.get(model)
    if cached is None:
        quote = connection.ops.quote_name
        fields = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name != "event"
        ]
        columns = ", ".join(quote(field.column) for field in fields)
        casts = [f"CAST(%s AS {field.db_type(connection)})" for field in fields]
        cached = _COLUMNS[model] = (columns, fields, casts)
    return cached


def _row(
    model: type[models.Model], row: models.Model, computed: dict[str, tuple[str, list]]
) -> tuple[str, str, list]:
    """(columns, values SQL, parameters) of the unsaved `row`: each column prepared as
    `save()` would (defaults, `auto_now_add`, JSON), or the SQL `computed` gives for it."""
    columns, fields, casts = _columns(model)
    sql, params = [], []
    for field, cast in zip(fields, casts, strict=True):
        if field.attname in computed:
            expression, values = computed[field.attname]
            sql.append(expression)
            params += values
        else:
            sql.append(cast)
            params.append(field.get_db_prep_save(field.pre_save(row, True), connection))
    return columns, ", ".join(sql), params


# A daily cap counted in the statement, as `earning._within_daily_cap` counts it: what the
# counter moved by is what the rule gives (the member's lock: no other writer).
_CAP_SQL = """before{n} AS (
    SELECT points FROM members_pointsdaily
    WHERE member_id = %s AND rule_id = %s AND day = CAST(%s AS date)
), cap{n} AS (
    INSERT INTO members_pointsdaily AS daily (member_id, rule_id, day, points)
    VALUES (%s, %s, CAST(%s AS date), LEAST(CAST(%s AS integer), %s))
    ON CONFLICT (member_id, rule_id, day)
    DO UPDATE SET points = LEAST(daily.points + CAST(%s AS integer), %s)
    RETURNING GREATEST(daily.points - COALESCE((SELECT points FROM before{n}), 0), 0) AS granted
)"""


def event_rows_write(
    *, event: MemberEvent, earned: Earned, member: Member, now: dt.datetime
) -> bool:
    """Insert `event` (unsaved) with `earned`'s lots and growth entries and add their
    totals to the (locked) member row, with `last_event_at` and `updated_at`, in one
    statement; count `earned.capped` lots against their daily caps in it too, and set
    their amounts, the balances, the totals and the event's points to what the caps left
    (a lot they left nothing of is not written). Sets the primary keys. Returns whether a
    tier above the member's is within reach of its growth value (this event's included);
    False when the event gave no growth. A repeated event id fails on its unique
    constraint (IntegrityError) and writes nothing."""
    quote = connection.ops.quote_name
    parts: list[str] = []
    params: list = []
    # Lot n's points: a parameter, or (capped) what the cap left, from the CTE `earned`.
    event_computed: dict[str, tuple[str, list]] = {}
    points_sql, points_params = "%s", [earned.points]
    if earned.capped:
        values, values_params = [], []
        for number, lot in enumerate(earned.lots):
            if number in earned.capped:
                rule, day = earned.capped[number]
                parts.append(_CAP_SQL.format(n=number))
                params += [member.pk, rule.pk, day, member.pk, rule.pk, day]
                params += [lot.amount, rule.daily_cap, lot.amount, rule.daily_cap]
                values.append(f"({number}, (SELECT granted FROM cap{number}))")  # noqa: S608
            else:
                values.append(f"({number}, CAST(%s AS integer))")
                values_params.append(lot.amount)
        parts.append(f"earned (n, points) AS (VALUES {', '.join(values)})")
        params += values_params
        points_sql, points_params = "(SELECT COALESCE(SUM(points), 0) FROM earned)", []
        event_computed["effects"] = (
            f"CAST(%s AS jsonb) || jsonb_build_object('points', {points_sql})",
            [MemberEvent._meta.get_field("effects").get_db_prep_save(event.effects, connection)],
        )
    columns, values_sql, values = _row(MemberEvent, event, event_computed)
    parts.append(
        f"event AS (INSERT INTO {quote(MemberEvent._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({values_sql}) RETURNING id)"
    )
    params += values
    children = [
        *((PointsEntry, f"lot{number}", lot) for number, lot in enumerate(earned.lots)),
        *(
            (GrowthEntry, f"growth{number}", row)
            for number, row in enumerate(earned.growth_entries)
        ),
    ]
    for model, name, row in children:
        computed: dict[str, tuple[str, list]] = {}
        where = ""
        if earned.capped and model is PointsEntry:
            number = int(name.removeprefix("lot"))
            lot_points = f"(SELECT points FROM earned WHERE n = {number})"  # noqa: S608
            computed = {
                "amount": (lot_points, []),
                "remaining": (lot_points, []),
                "balance_after": (
                    f"CAST(%s AS integer) + (SELECT SUM(points) FROM earned WHERE n <= {number})",  # noqa: S608
                    [earned.points_before],
                ),
            }
            where = f" WHERE {lot_points} > 0"
        columns, values_sql, values = _row(model, row, computed)
        event_column = quote(model._meta.get_field("event").column)
        parts.append(
            f"{name} AS (INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
            f"({columns}, {event_column}) SELECT {values_sql}, event.id FROM event{where} "
            "RETURNING id)"
        )
        params += values
    parts.append(
        f"summary AS (UPDATE {quote(Member._meta.db_table)} "  # noqa: S608
        f"SET points = points + {points_sql}, growth_value = growth_value + %s, "
        "last_event_at = %s, updated_at = %s WHERE id = %s RETURNING id)"
    )
    params += [*points_params, earned.growth, event.occurred_at, now, member.pk]
    # An upper bound of qualifying growth is the growth value held; a tier above the
    # member's that even it does not reach cannot be reached (see member_tier_evaluate).
    reach = "FALSE"
    reach_params: list = []
    if earned.growth > 0:
        tier_table = quote(Tier._meta.db_table)
        reach = f"EXISTS (SELECT 1 FROM {tier_table} WHERE threshold <= %s"  # noqa: S608
        # The bound as member_tier_evaluate is given it by the ORM path (this event's
        # growth is in `member.growth_value` already and counted once more: a looser bound,
        # never a missed upgrade).
        reach_params.append(member.growth_value + earned.growth)
        if member.tier_id is not None:
            reach += " AND rank > %s"
            reach_params.append(member.tier.rank)
        reach += ")"
    selects = [
        reach,
        "event.id",
        *(f"(SELECT id FROM {name})" for _m, name, _r in children),  # noqa: S608
    ]
    if earned.capped:
        selects.append("ARRAY(SELECT points FROM earned ORDER BY n)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(parts)} SELECT {', '.join(selects)} FROM event, summary",  # noqa: S608
            [*params, *reach_params],
        )
        reachable, event_id, *ids = cursor.fetchone()
    event.pk = event_id
    if earned.capped:
        _capped_amounts(event=event, earned=earned, member=member, points=ids.pop())
    for (_model, _name, row), row_id in zip(children, ids, strict=True):
        row.pk, row.event = row_id, event
        row._state.adding, row._state.db = False, connection.alias
    event._state.adding, event._state.db = False, connection.alias
    earned.lots = [lot for lot in earned.lots if lot.pk is not None]
    return reachable


def _capped_amounts(
    *, event: MemberEvent, earned: Earned, member: Member, points: list[int]
) -> None:
    """What the statement's caps left: the lots' amounts and balances (lots left with
    nothing were not written), the totals, the in-memory member and the event's points."""
    total = 0
    for lot, lot_points in zip(earned.lots, points, strict=True):
        total += lot_points
        lot.amount = lot.remaining = lot_points
        lot.balance_after = earned.points_before + total
    member.points += total - earned.points
    earned.points = total
    event.effects["points"] = total
