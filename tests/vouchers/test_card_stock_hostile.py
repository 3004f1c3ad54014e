"""Hostile card-stock files read directly: every row whatever the sheet claims, bounded
memory. The console and command-line walk of every hostile file is in the probe module,
tests/riskcontrol/test_hostile_input.py."""

import io
import tracemalloc

import pytest

from riskcontrol.core.actors import Actor
from tests.vouchers import hostile_files as hostile
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import

pytestmark = pytest.mark.django_db(transaction=True)
CODES = [f"HOSTILE-{i:05d}" for i in range(5)]


def test_a_stale_dimension_hides_no_row():
    batch = make_batch(quantity=None, kind="card_secret", code="DIM")
    data = hostile.stale_dimension_workbook(CODES)

    report = card_stock_import(
        batch=batch, open_file=lambda: _stream(data), file_name="d.xlsx", actor=Actor.system()
    )

    assert (report.rows_total, report.imported) == (5, 5)
    assert batch.vouchers.count() == 5


def test_a_huge_string_cell_is_read_in_bounded_memory():
    batch = make_batch(quantity=None, kind="card_secret", code="BIG")
    data = hostile.huge_string_workbook(CODES[:3], 40_000_000)  # 40 MB of text, ~40 KB zipped

    tracemalloc.start()
    try:
        report = card_stock_import(
            batch=batch,
            open_file=lambda: _stream(data),
            file_name="big.xlsx",
            actor=Actor.system(),
            dry_run=True,
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report.counts == {"accepted": 3, "too_long": 1}
    assert [issue.message for issue in report.issues] == ["A cell is longer than 1024 characters."]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
