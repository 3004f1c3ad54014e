"""Model rows read by hand-written SQL on the hot paths (a lock that joins what it
needs, one statement instead of two ORM queries): the select list of a model's columns
and the instances built back from a result row, as the ORM would build them.

Only names from the models are formatted into SQL here; values stay parameters."""

from __future__ import annotations

from django.db import connection, models

_SELECT_LISTS: dict[tuple[type[models.Model], str], str] = {}


def select_list(model: type[models.Model], alias: str) -> str:
    """`alias.col, alias.col, …` for every concrete field of `model`, in field order."""
    key = (model, alias)
    cached = _SELECT_LISTS.get(key)
    if cached is None:
        quote = connection.ops.quote_name
        cached = _SELECT_LISTS[key] = ", ".join(
            f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields
        )
    return cached


_SHAPES: dict[type[models.Model], tuple[int, list[str], list[tuple[int, models.Field]]]] = {}


def _shape(model: type[models.Model]) -> tuple[int, list[str], list[tuple[int, models.Field]]]:
    """(position of the primary key, attnames, fields that convert their values)."""
    shape = _SHAPES.get(model)
    if shape is None:
        fields = model._meta.concrete_fields
        shape = _SHAPES[model] = (
            fields.index(model._meta.pk),
            [field.attname for field in fields],
            [(i, field) for i, field in enumerate(fields) if hasattr(field, "from_db_value")],
        )
    return shape


def from_row(
    model: type[models.Model], row: tuple, start: int = 0
) -> tuple[models.Model | None, int]:
    """The instance whose columns (as `select_list` gives them) start at `row[start]`,
    and where the next model's columns start. None when the primary key is NULL (the
    unmatched side of an outer join). Fields that convert what the database returns
    (`from_db_value`, e.g. a JSONField) convert it here too, as the ORM would."""
    pk_at, attnames, converting = _shape(model)
    end = start + len(attnames)
    values = row[start:end]
    if values[pk_at] is None:
        return None, end
    if converting:
        values = list(values)
        for index, field in converting:
            if values[index] is not None:
                values[index] = field.from_db_value(values[index], None, connection)
    return model.from_db(connection.alias, attnames, values), end
