"""Card-stock files as rows: which kind of file it is (CSV in UTF-8, UTF-8 with BOM or
GBK, or XLSX), which column is which (English or Chinese headers), each data row's
cells in `FIELDS` order, and whether a file is too big to be read in a web process.
Reading stays within the limits (`limits`, `xlsx`); checking a row lives in `validation`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import operator
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from riskcontrol.core.errors import ValidationFailed

from .limits import ReadLimits, bounded_lines
from .report import ImportReport
from .xlsx import xlsx_part_sizes, xlsx_rows

# The columns a file may have, in the order a row's cells are handed on.
FIELDS = ("code", "serial", "expires_at", "face_value", "cost", "region")
HEADERS = {
    "code": "code",
    "卡密": "code",
    "serial": "serial",
    "卡号": "serial",
    "expires_at": "expires_at",
    "有效期": "expires_at",
    "face_value": "face_value",
    "面值": "face_value",
    "cost": "cost",
    "成本": "cost",
    "region": "region",
    "地区": "region",
}


def estimate_rows(open_file: Callable[[], BinaryIO]) -> int:
    """Data rows in a CSV file, cheaply (its newlines)."""
    with open_file() as stream:
        lines = 0
        while chunk := stream.read(1024 * 1024):
            lines += chunk.count(b"\n")
        return max(0, lines - 1)


def needs_worker(open_file: Callable[[], BinaryIO]) -> bool:
    """Whether a file is too big to be read in a web process: above
    `CARD_STOCK_SYNC_BYTES` (an XLSX by what its parts claim to expand to) or above
    `CARD_STOCK_SYNC_ROWS` rows."""
    with open_file() as stream:
        head = stream.read(4)
        stream.seek(0)
        if head == b"PK\x03\x04":
            size = xlsx_part_sizes(stream, ReadLimits.from_settings())
            return size > settings.CARD_STOCK_SYNC_BYTES
        size = 0
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > settings.CARD_STOCK_SYNC_BYTES:
                return True
    return estimate_rows(open_file) > settings.CARD_STOCK_SYNC_ROWS


def _detect_encoding(stream: BinaryIO) -> str:
    """UTF-8 with BOM, UTF-8, or else GBK (gb18030, its superset): spreadsheet exports."""
    head = stream.read(3)
    stream.seek(0)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"
    finally:
        stream.seek(0)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        # A spreadsheet date cell arrives as a datetime at midnight: it is a date alone
        # (the end of that day, dates.py), not the day's first instant.
        if value.time() == dt.time.min:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def file_rows(stream: BinaryIO, report: ImportReport) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number as the operator sees it, its cells in FIELDS order) for every data row."""
    head = stream.read(4)
    stream.seek(0)
    if head == b"PK\x03\x04":
        yield from _xlsx_rows(stream, report)
        return
    report.file_format, report.encoding = "csv", _detect_encoding(stream)
    text = io.TextIOWrapper(stream, encoding=report.encoding, newline="")
    limits = report.limits
    try:
        reader = csv.reader(bounded_lines(text, limits))
        header = next(reader, None)
        limits.check_columns(1, header or [])
        cells = _cell_picker(header)
        for number, values in enumerate(reader, start=2):
            if not any(value.strip() for value in values):
                continue
            limits.check_columns(number, values)
            yield number, cells(values)
    finally:
        text.detach()


def _xlsx_rows(stream: BinaryIO, report: ImportReport) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every row of the first sheet, whatever its stored dimension says; the first row
    holding a value names the columns."""
    report.file_format, report.encoding = "xlsx", ""
    rows = xlsx_rows(stream, report.limits)
    header = next(rows, None)
    cells = _cell_picker([_cell(value) for value in header[1]] if header else None)
    for number, values in rows:
        texts = [_cell(value) for value in values]
        if any(text.strip() for text in texts):
            yield number, cells(texts)


def _cell_picker(header: list[str] | None) -> Callable[[list[str]], tuple[str, ...]]:
    """A function from a row's cells to the FIELDS cells, in that order: "" for a column
    the file does not have and for cells missing at the end of a short row."""
    columns: dict[str, int] = {}
    for i, name in enumerate(header or []):
        key = HEADERS.get(name.strip().lstrip("\ufeff").lower())
        if key and key not in columns:
            columns[key] = i
    if "code" not in columns:
        raise ValidationFailed(
            {"file": [_("The first row must name the columns, with a “code” (卡密) column.")]}
        )
    # Each row is cut to the columns in use and padded, so that position `width` (where
    # absent columns point) and anything past a short row's end read "".
    width = max(columns.values()) + 1
    padding = [""] * (width + 1)
    pick = operator.itemgetter(*(columns.get(name, width) for name in FIELDS))
    return lambda values: pick(values[:width] + padding)
