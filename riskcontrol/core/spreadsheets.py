"""Every CSV (and spreadsheet) we write goes through here, so that no cell is run as a
formula when an operator opens the file (CSV/formula injection).

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe, which spreadsheet programs show but do not evaluate. Nothing is stripped:
a card secret like `-AB12` stays readable as itself. django-import-export's own
escaping (`IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`) only strips a leading `=`, which
both misses the other three and changes the data, so it is off and resources mix in
`SpreadsheetSafeExport` instead.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

import tablib

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """`value`, with an apostrophe in front when it is text a spreadsheet would read as a
    formula. Numbers, dates and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def spreadsheet_safe_row(row: Iterable[Any]) -> list[Any]:
    return [spreadsheet_safe(cell) for cell in row]


class SafeCsvWriter:
    """`csv.writer` whose rows are made spreadsheet-safe cell by cell."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(spreadsheet_safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: Any, **kwargs: Any) -> SafeCsvWriter:
    """The only way this code base writes CSV."""
    return SafeCsvWriter(stream, **kwargs)


def spreadsheet_safe_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    safe = tablib.Dataset(headers=spreadsheet_safe_row(dataset.headers or []))
    safe.title = dataset.title
    for row in dataset:
        safe.append(spreadsheet_safe_row(row))
    return safe


class SpreadsheetSafeExport:
    """Mix into a django-import-export resource (before the resource class): every
    exported dataset (CSV, XLSX) is made spreadsheet-safe."""

    def export(self, *args: Any, **kwargs: Any) -> tablib.Dataset:
        return spreadsheet_safe_dataset(super().export(*args, **kwargs))
