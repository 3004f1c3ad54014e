"""How far reading a card-stock file may go: the limits, the errors that refuse a file
as a whole, and the bounded CSV line reader.

Whatever a file says about itself, reading it costs at most the configured limits:
cells are kept to `CARD_STOCK_MAX_CELL_CHARS` characters (one more, so that the row is
reported as too long, never shortened in silence), values may stand in the first
`CARD_STOCK_MAX_COLUMNS` columns only, an XLSX part expands to at most
`CARD_STOCK_XLSX_MAX_PART_BYTES`, its shared strings are counted and capped, and a pass
stops when its time budget is spent. A file outside the limits is refused as a whole
(`FileRefused`) with a sentence saying why. This module knows nothing of vouchers.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from riskcontrol.core.errors import ValidationFailed

CHECK_EVERY = 1024  # rows between two looks at the clock


class FileRefused(ValidationFailed):
    """The file as a whole cannot be read within the limits (or is no spreadsheet)."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": [message]}, detail=message)


class ReadTimeExceeded(FileRefused):
    """The pass spent its time budget (a worker may be given a larger one)."""


@dataclass(frozen=True)
class ReadLimits:
    max_cell_chars: int
    max_columns: int
    xlsx_max_bytes: int
    xlsx_max_part_bytes: int
    xlsx_max_shared_strings: int
    xlsx_max_shared_chars: int
    deadline: float | None = None  # time.monotonic() past which the pass stops

    @classmethod
    def from_settings(cls, *, seconds: float | None = None) -> ReadLimits:
        return cls(
            max_cell_chars=settings.CARD_STOCK_MAX_CELL_CHARS,
            max_columns=settings.CARD_STOCK_MAX_COLUMNS,
            xlsx_max_bytes=settings.CARD_STOCK_XLSX_MAX_BYTES,
            xlsx_max_part_bytes=settings.CARD_STOCK_XLSX_MAX_PART_BYTES,
            xlsx_max_shared_strings=settings.CARD_STOCK_XLSX_MAX_SHARED_STRINGS,
            xlsx_max_shared_chars=settings.CARD_STOCK_XLSX_MAX_SHARED_CHARS,
            deadline=time.monotonic() + seconds if seconds else None,
        )

    @property
    def max_line_chars(self) -> int:
        return self.max_cell_chars * self.max_columns

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ReadTimeExceeded(_("Reading the file took longer than its time budget."))

    def check_columns(self, row: int, values: list[str]) -> None:
        """A value past the last allowed column refuses the file (empty cells are fine)."""
        if len(values) > self.max_columns and any(
            value.strip() for value in values[self.max_columns :]
        ):
            raise self.too_many_columns(row)

    def too_many_columns(self, row: int) -> FileRefused:
        return FileRefused(
            _("Row %(row)d has values past column %(max)d; a file may have at most %(max)d.")
            % {"row": row, "max": self.max_columns}
        )


def bounded_lines(text: io.TextIOBase, limits: ReadLimits) -> Iterator[str]:
    """The lines of a text file for `csv.reader`, refusing a line longer than a row may
    be (a 300 MB cell or a 2M-cell row would otherwise be read whole)."""
    number = 0
    while line := text.readline(limits.max_line_chars + 1):
        number += 1
        if len(line) > limits.max_line_chars:
            raise FileRefused(
                _("Line %(line)d of the file is longer than %(max)d characters.")
                % {"line": number, "max": limits.max_line_chars}
            )
        if number % CHECK_EVERY == 0:
            limits.check_time()
        yield line
