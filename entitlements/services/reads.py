"""What a grant reads once it holds the member's lock: the benefit with its sources and
their batches, in one statement on PostgreSQL (three ORM queries' worth of rows; the
ORM would spend several times the round trip building them).

Read after the lock, so a grant that waited for the member sees the benefit and its
batches as the grant before it left them (a budget spent, a batch paused meanwhile)."""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound
from riskcontrol.core.rawsql import from_row, select_list
from vouchers.models import VoucherBatch

from ..models import Benefit, BenefitSource

_SQL: dict[str, str] = {}


def benefit_with_sources(benefit: Benefit | str) -> tuple[Benefit, list[BenefitSource]]:
    """The benefit (by instance or code, read afresh) and its sources in order, each with
    its batch. Raises NotFound."""
    key, value = ("id", benefit.pk) if isinstance(benefit, Benefit) else ("code", benefit)
    if connection.vendor != "postgresql":
        found = Benefit.objects.filter(**{key: value}).first()
        if found is None:
            raise NotFound(_("No benefit with this code."))
        return found, list(found.sources.select_related("batch").order_by("position", "id"))
    if key not in _SQL:
        quote = connection.ops.quote_name
        _SQL[key] = (
            f"SELECT {select_list(Benefit, 'b')}, {select_list(BenefitSource, 's')}, "  # noqa: S608
            f"{select_list(VoucherBatch, 'vb')} "
            f"FROM {quote(Benefit._meta.db_table)} b "
            f"LEFT JOIN {quote(BenefitSource._meta.db_table)} s ON s.benefit_id = b.id "
            f"LEFT JOIN {quote(VoucherBatch._meta.db_table)} vb ON vb.id = s.batch_id "
            f"WHERE b.{quote(key)} = %s ORDER BY s.position, s.id"
        )
    with connection.cursor() as cursor:
        cursor.execute(_SQL[key], [value])
        rows = cursor.fetchall()
    if not rows:
        raise NotFound(_("No benefit with this code."))
    found, offset = from_row(Benefit, rows[0])
    sources: list[BenefitSource] = []
    for row in rows:
        source, batch_at = from_row(BenefitSource, row, offset)
        if source is None:
            continue
        batch, _end = from_row(VoucherBatch, row, batch_at)
        BenefitSource.benefit.field.set_cached_value(source, found)
        BenefitSource.batch.field.set_cached_value(source, batch)
        sources.append(source)
    return found, sources
