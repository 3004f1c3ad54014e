"""Row locks on vouchers, for services (here and in other apps) that read then write."""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models.expressions import RawSQL
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

from .models import Voucher
from .secrets import lookup_indexes, pick_by_index

Annotations = dict[str, Any] | None


def _locking(related: tuple[str, ...], annotate: Annotations):
    vouchers = Voucher.objects.select_for_update(of=("self",)).select_related("batch", *related)
    return vouchers.annotate(**annotate) if annotate else vouchers


def voucher_for_update(
    *, pk: int, related: tuple[str, ...] = (), annotate: Annotations = None
) -> Voucher:
    """Lock one voucher row inside the caller's transaction; its batch (and `related`,
    e.g. a rule another app keeps on the batch) come in the same query, unlocked, and so
    do the caller's `annotate` expressions (e.g. a check of a row it cached)."""
    return _locking(related, annotate).get(pk=pk)


def voucher_for_update_by_code(
    raw_code: str, *, related: tuple[str, ...] = (), annotate: dict[str, RawSQL] | None = None
) -> Voucher | None:
    """Find (through the blind index, both forms in one query, the exact form first) and
    lock the voucher with this code; None if there is none. The hot path of redeeming:
    its query is compiled once per process (`_by_indexes`), so `annotate` takes RawSQL."""
    indexes = lookup_indexes(raw_code)
    if not indexes:
        return None
    return pick_by_index(_by_indexes(related, annotate or {}, indexes), indexes)


def voucher_for_update_by_serial(
    serial: str, *, related: tuple[str, ...] = (), annotate: Annotations = None
) -> Voucher | None:
    return _locking(related, annotate).filter(serial=serial).first()


# --- the locking query by blind index, compiled once -------------------------------------
# Compiling the three-table query (voucher, batch, rule: ~60 columns) took Django about a
# seventh of a redemption, the same work for every request. `_by_indexes` compiles it
# once per process and shape (connection, related rows, annotations, number of indexes) and
# keeps Django's own compiler to turn rows into model instances, as `QuerySet` iteration
# does. The parameters of a shape are the annotations' (RawSQL, so known without
# compiling) then the indexes; the first compile checks exactly that, and a shape that
# does not match is simply run through the ORM every time.

_compiled: dict[tuple, tuple[str, Any, list[str], list, int, int]] = {}
_COMPILED_MAX = 64


def _by_indexes(
    related: tuple[str, ...], annotate: dict[str, RawSQL], indexes: list[bytes]
) -> list[Voucher]:
    connection = connections[router.db_for_write(Voucher)]
    if connection.features.has_select_for_update and connection.get_autocommit():
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    field = Voucher._meta.get_field("secret_index")
    extra = [param for raw in annotate.values() for param in raw.params]
    key = (
        connection,  # per thread: a compiler keeps its connection for the converters
        related,
        tuple((name, raw.sql) for name, raw in annotate.items()),
        len(indexes),
    )
    compiled = _compiled.get(key)
    if compiled is None:
        queryset = _locking(related, annotate).filter(secret_index__in=indexes)
        compiler = queryset.query.get_compiler(using=connection.alias)
        sql, params = compiler.as_sql()
        if list(params[: len(extra)]) != extra or len(params) != len(extra) + len(indexes):
            return list(queryset)
        klass_info = compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in compiler.select[start:end]]
        populators = get_related_populators(klass_info, compiler.select, connection.alias)
        if len(_compiled) >= _COMPILED_MAX:
            _compiled.clear()
        compiled = _compiled[key] = (sql, compiler, init_list, populators, start, end)
    sql, compiler, init_list, populators, start, end = compiled
    values = [field.get_db_prep_value(index, connection) for index in indexes]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*extra, *values])
        rows = cursor.fetchall()
    found = []
    for row in compiler.results_iter([rows]):
        voucher = Voucher.from_db(connection.alias, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, voucher)
        for name, position in compiler.annotation_col_map.items():
            setattr(voucher, name, row[position])
        found.append(voucher)
    return found
