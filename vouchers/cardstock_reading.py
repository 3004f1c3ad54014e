"""Card-stock files read within bounds: the limits, the bounded CSV line reader and a
streaming XLSX reader.

Whatever a file says about itself, reading it costs at most the configured limits:
cells are kept to `CARD_STOCK_MAX_CELL_CHARS` characters (one more, so that the row is
reported as too long, never shortened in silence), values may stand in the first
`CARD_STOCK_MAX_COLUMNS` columns only, an XLSX part expands to at most
`CARD_STOCK_XLSX_MAX_PART_BYTES`, its shared strings are counted and capped, and a pass
stops when its time budget is spent. A file outside the limits is refused as a whole
(`FileRefused`) with a sentence saying why.

The XLSX reader streams the first worksheet straight out of the zip through expat and
reads every row the sheet holds: openpyxl's read-only mode trusted the sheet's stored
`<dimension>` and silently dropped the rows past it, and held whole strings (a 300 MB
shared string cost ~1 GB). Cell values come out as openpyxl would give them (str, int,
float, bool, datetime) so that `cardstock._cell` turns them into text in one place.
This module knows nothing of vouchers; row validation lives in `cardstock`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import posixpath
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.parsers import expat

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from riskcontrol.core.errors import ValidationFailed

_FEED = 64 * 1024  # bytes handed to expat at a time: character data arrives in pieces
_CHECK_EVERY = 1024  # rows between two looks at the clock
_CELL_REF = re.compile(r"^([A-Z]{1,3})([0-9]{0,7})$")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


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
        if number % _CHECK_EVERY == 0:
            limits.check_time()
        yield line


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


# --- XLSX -----------------------------------------------------------------------------------


def _not_xlsx() -> FileRefused:
    return FileRefused(_("The file is not a readable XLSX workbook."))


def xlsx_rows(stream: BinaryIO, limits: ReadLimits) -> Iterator[tuple[int, list[Any]]]:
    """(row number in the sheet, its values by column from A) for every row of the first
    worksheet that holds a value."""
    data = stream.read(limits.xlsx_max_bytes + 1)
    if len(data) > limits.xlsx_max_bytes:
        raise FileRefused(
            _("An XLSX file may be at most %(mb)d MB; save a larger one as CSV.")
            % {"mb": limits.xlsx_max_bytes // (1024 * 1024)}
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (*_ZIP_ERRORS, OSError, ValueError):
        raise _not_xlsx() from None
    try:
        with archive:
            book = _Workbook(archive, limits)
            yield from _SheetReader(book, limits).rows()
    except (*_ZIP_ERRORS, expat.ExpatError, KeyError, ValueError, OSError):
        raise _not_xlsx() from None


def xlsx_part_sizes(stream: BinaryIO, limits: ReadLimits) -> int:
    """What the workbook's parts claim to expand to, from the zip directory alone (a
    hint for where to read it: the reader counts what they really expand to)."""
    data = stream.read(limits.xlsx_max_bytes + 1)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (*_ZIP_ERRORS, OSError, ValueError):
        return len(data)


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _parse(
    archive: zipfile.ZipFile,
    name: str,
    limits: ReadLimits,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Feed one part of the zip to expat in pieces; yields after each piece (so a caller
    can hand on what the handlers collected). No DTDs, no entities."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = _FEED

    def refuse_dtd(*_args: Any) -> None:
        raise FileRefused(_("The workbook holds a document type declaration; it is refused."))

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = lambda tag, attrs: start(_local(tag), attrs)
    if end is not None:
        parser.EndElementHandler = lambda tag: end(_local(tag))
    if text is not None:
        parser.CharacterDataHandler = text
    expanded = 0
    with archive.open(name) as part:
        while chunk := part.read(_FEED):
            expanded += len(chunk)
            if expanded > limits.xlsx_max_part_bytes:
                raise FileRefused(
                    _("A part of the workbook expands to more than %(mb)d MB.")
                    % {"mb": limits.xlsx_max_part_bytes // (1024 * 1024)}
                )
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
        yield


def _attr(attrs: dict[str, str], local: str) -> str | None:
    for key, value in attrs.items():
        if _local(key) == local:
            return value
    return None


class _Workbook:
    """Where the first sheet, the shared strings and the styles are; the date system."""

    def __init__(self, archive: zipfile.ZipFile, limits: ReadLimits) -> None:
        self.archive, self.limits = archive, limits
        names = set(archive.namelist())
        book = self._targets("_rels/.rels", "", names).get("officeDocument", "xl/workbook.xml")
        folder = posixpath.dirname(book)
        rels = self._relations(posixpath.join(folder, "_rels", posixpath.basename(book) + ".rels"))
        first_sheet: list[str] = []
        self.epoch = CALENDAR_WINDOWS_1900

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                self.epoch = CALENDAR_MAC_1904
            elif tag == "sheet" and not first_sheet:
                first_sheet.append(_attr(attrs, "id") or "")

        for _step in _parse(archive, book, limits, start):
            pass
        by_id = {rel_id: (kind, target) for rel_id, kind, target in rels}
        kind, target = by_id.get(first_sheet[0] if first_sheet else "", ("", ""))
        self.sheet = _resolve(folder, target) if kind == "worksheet" else ""
        if self.sheet not in names:
            raise _not_xlsx()
        by_kind = {kind: _resolve(folder, target) for _id, kind, target in rels}
        self.shared_strings = by_kind.get("sharedStrings", "")
        self.styles = by_kind.get("styles", "")
        self.names = names

    def _relations(self, name: str) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        if name not in self.archive.namelist():
            return found

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "Relationship":
                kind = attrs.get("Type", "").rpartition("/")[2]
                found.append((attrs.get("Id", ""), kind, attrs.get("Target", "")))

        for _step in _parse(self.archive, name, self.limits, start):
            pass
        return found

    def _targets(self, name: str, folder: str, names: set[str]) -> dict[str, str]:
        if name not in names:
            return {}
        return {kind: _resolve(folder, target) for _id, kind, target in self._relations(name)}


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


class _SheetReader:
    def __init__(self, book: _Workbook, limits: ReadLimits) -> None:
        self.book, self.limits = book, limits
        self.keep = limits.max_cell_chars + 1  # one more: too long stays too long
        self.shared = self._shared_strings()
        self.date_styles = self._date_styles()

    # Shared strings: each kept to `keep` characters, their number and sum capped.
    def _shared_strings(self) -> list[str]:
        strings: list[str] = []
        if self.book.shared_strings not in self.book.names:
            return strings
        parts: list[str] = []
        state = {"in_si": False, "in_t": False, "phonetic": 0, "kept": 0, "total": 0}

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "si":
                state.update(in_si=True, kept=0)
                parts.clear()
            elif tag == "rPh":
                state["phonetic"] += 1
            elif tag == "t" and state["in_si"] and not state["phonetic"]:
                state["in_t"] = True

        def end(tag: str) -> None:
            if tag == "t":
                state["in_t"] = False
            elif tag == "rPh":
                state["phonetic"] -= 1
            elif tag == "si":
                state["in_si"] = False
                strings.append("".join(parts))
                state["total"] += state["kept"]
                if len(strings) > self.limits.xlsx_max_shared_strings:
                    raise FileRefused(
                        _("The workbook holds more than %(max)d distinct texts.")
                        % {"max": self.limits.xlsx_max_shared_strings}
                    )
                if state["total"] > self.limits.xlsx_max_shared_chars:
                    raise FileRefused(
                        _("The workbook's texts add up to more than %(max)d characters.")
                        % {"max": self.limits.xlsx_max_shared_chars}
                    )

        def text(data: str) -> None:
            if state["in_t"] and state["kept"] < self.keep:
                piece = data[: self.keep - state["kept"]]
                parts.append(piece)
                state["kept"] += len(piece)

        for _step in _parse(
            self.book.archive, self.book.shared_strings, self.limits, start, end, text
        ):
            self.limits.check_time()
        return strings

    def _date_styles(self) -> frozenset[int]:
        if self.book.styles not in self.book.names:
            return frozenset()
        formats = dict(BUILTIN_FORMATS)
        cell_formats: list[int] = []
        in_cell_xfs = [False]

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "numFmt":
                with contextlib.suppress(ValueError):
                    formats[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")[:255]
            elif tag == "cellXfs":
                in_cell_xfs[0] = True
            elif tag == "xf" and in_cell_xfs[0] and len(cell_formats) < 65536:
                try:
                    cell_formats.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    cell_formats.append(0)

        def end(tag: str) -> None:
            if tag == "cellXfs":
                in_cell_xfs[0] = False

        for _step in _parse(self.book.archive, self.book.styles, self.limits, start, end):
            pass
        return frozenset(
            i for i, fmt in enumerate(cell_formats) if is_date_format(formats.get(fmt) or "")
        )

    # The sheet itself.
    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        done: list[tuple[int, list[Any]]] = []
        row: dict[int, Any] = {}
        cell: dict[str, Any] = {}
        parts: list[str] = []
        state = {"row": 0, "col": 0, "capture": False, "kept": 0, "phonetic": 0, "rows": 0}

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "c":
                ref = _CELL_REF.match(attrs.get("r", ""))
                state["col"] = _column(ref.group(1)) if ref else state["col"] + 1
                cell.update(type=attrs.get("t", "n"), style=attrs.get("s", "0"))
                parts.clear()
                state["kept"] = 0
            elif tag == "row":
                number = attrs.get("r", "")
                state["row"] = int(number) if number.isdigit() else state["row"] + 1
                state["col"] = 0
                row.clear()
            elif tag == "rPh":
                state["phonetic"] += 1
            elif tag in ("v", "t") and not state["phonetic"]:
                state["capture"] = True

        def end(tag: str) -> None:
            if tag in ("v", "t"):
                state["capture"] = False
            elif tag == "rPh":
                state["phonetic"] -= 1
            elif tag == "c":
                value = self._value(cell["type"], cell["style"], "".join(parts), state["kept"])
                if value is not None and value != "":
                    row[state["col"]] = value
                    if state["col"] > self.limits.max_columns:
                        raise self.limits.too_many_columns(state["row"])
            elif tag == "row":
                state["rows"] += 1
                if state["rows"] % _CHECK_EVERY == 0:
                    self.limits.check_time()
                if row:
                    values: list[Any] = [None] * max(row)
                    for col, value in row.items():
                        values[col - 1] = value
                    done.append((state["row"], values))

        def text(data: str) -> None:
            if state["capture"] and state["kept"] < self.keep:
                piece = data[: self.keep - state["kept"]]
                parts.append(piece)
                state["kept"] += len(piece)

        for _step in _parse(self.book.archive, self.book.sheet, self.limits, start, end, text):
            self.limits.check_time()  # also inside one endless row
            yield from done
            done.clear()

    def _value(self, kind: str, style: str, text: str, kept: int) -> Any:
        if kind == "s":
            try:
                return self.shared[int(text)]
            except (ValueError, IndexError):
                raise _not_xlsx() from None
        if kind in ("inlineStr", "str", "e") or kept >= self.keep:
            return text  # too long to be a number: kept as text, reported as too long
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            try:
                return dt.datetime.fromisoformat(text.strip())
            except ValueError:
                return text
        text = text.strip()
        if not text:
            return None
        try:
            number: int | float = float(text) if re.search(r"[.eE]", text) else int(text)
        except ValueError:
            return text
        if style.isdigit() and int(style) in self.date_styles:
            try:
                return from_excel(number, self.book.epoch)
            except (ValueError, OverflowError, TypeError):
                return number
        return number


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number
