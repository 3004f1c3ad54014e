"""Card-stock import: wholesale card secrets from CSV (UTF-8, UTF-8 with BOM, GBK) or
XLSX, validated with a row-level report before anything is written, then imported all
or nothing.

Every pass streams the file and keeps memory flat whatever its size, remembering only
64-bit keys of the codes and serials it has seen and the rows it rejected. The report
(a dry run) writes nothing; the confirmed import validates again and writes the
accepted rows in the same pass, in one transaction (PostgreSQL: a binary COPY straight
into the voucher table), rolled back whole when the report does not allow the import.

Reading is bounded (`cardstock_reading`: cell size, columns, XLSX expansion, a time
budget); the jobs below record who did what and end failed, with the reason, whatever
goes wrong (`cardstock_events`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import io
import json
import logging
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed
from riskcontrol.core.spreadsheets import csv_writer
from riskcontrol.crypto import codec, normalise_code

from .cardstock_events import WORKER, failure_message, job_event, job_fail, printable
from .cardstock_reading import (
    ReadLimits,
    ReadTimeExceeded,
    bounded_lines,
    needs_worker,
    xlsx_rows,
)
from .dates import end_of_day
from .models import CardStockImport, CardStockImportEvent, Voucher, VoucherBatch
from .secrets import INDEX_PURPOSE, code_aad, fold_code, folded_code_index
from .statistics import analyze_vouchers

logger = logging.getLogger(__name__)

MAX_CODE_LENGTH = 128
MAX_SERIAL_LENGTH = 128
MAX_REGION_LENGTH = 64
MAX_ISSUES_KEPT = 10_000
LOOKUP_CHUNK = 5_000
WRITE_CHUNK = 20_000

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
_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")

# Report categories, in the order a row is checked.
ACCEPTED = "accepted"
DUPLICATE_IN_FILE = "duplicate_in_file"
ALREADY_IN_DATABASE = "already_in_database"
EMPTY = "empty"
TOO_LONG = "too_long"
ILLEGAL_CHARACTERS = "illegal_characters"
BAD_DATE = "bad_date"
EXPIRED = "expired"
BAD_AMOUNT = "bad_amount"
BAD_SERIAL = "bad_serial"
BAD_REGION = "bad_region"


class ImportBlocked(DomainError):
    code = "import_blocked"
    title = _("The import was not carried out.")


@dataclass
class RowIssue:
    row: int
    kind: str
    message: str
    masked_code: str


@dataclass
class ImportReport:
    file_name: str
    file_format: str = ""
    encoding: str = ""
    rows_total: int = 0
    counts: Counter = field(default_factory=Counter)
    issues: list[RowIssue] = field(default_factory=list)
    imported: int = 0
    blocked: bool = False
    dry_run: bool = False
    # How far reading the file may go (cell size, columns, time); not part of the report.
    limits: ReadLimits = field(default_factory=ReadLimits.from_settings, repr=False)

    @property
    def accepted(self) -> int:
        return self.counts[ACCEPTED]

    @property
    def rejected(self) -> int:
        return self.rows_total - self.accepted

    def add_issue(self, issue: RowIssue) -> None:
        self.counts[issue.kind] += 1
        if len(self.issues) < MAX_ISSUES_KEPT:
            self.issues.append(issue)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "format": self.file_format,
            "encoding": self.encoding,
            "rows": self.rows_total,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "by_kind": dict(sorted(self.counts.items())),
            "imported": self.imported,
            "blocked": self.blocked,
            "dry_run": self.dry_run,
            "issues": [issue.__dict__ for issue in self.issues],
        }


def mask(code: str) -> str:
    return f"{code[:2]}****{code[-2:]}" if len(code) >= 8 else "****"


# --- Reading --------------------------------------------------------------------------------


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


def _rows(stream: BinaryIO, report: ImportReport) -> Iterator[tuple[int, tuple[str, ...]]]:
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


# Control characters (NUL above all: PostgreSQL text cannot hold it) and surrogates.
_UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _unreadable_cells(number: int, cells: tuple[str, ...], limits: ReadLimits) -> RowIssue | None:
    """A row whose cells no column can take, whatever the column: a cell longer than a
    cell may be, or bytes that are no text. The code is not shown: it may be the bad
    cell."""
    if any(len(cell) > limits.max_cell_chars for cell in cells):
        return RowIssue(
            number,
            TOO_LONG,
            _("A cell is longer than %(max)d characters.") % {"max": limits.max_cell_chars},
            "",
        )
    if any(_UNREADABLE.search(cell) for cell in cells):
        return RowIssue(
            number,
            ILLEGAL_CHARACTERS,
            _("A cell holds control characters (such as NUL) that are not text."),
            "",
        )
    return None


# --- Validating one row ---------------------------------------------------------------------


@dataclass
class CleanRow:
    row: int
    code: str
    index: bytes
    serial: str
    expires_at: dt.datetime | None
    face_value: Decimal | None
    cost: Decimal | None
    region: str


@functools.lru_cache(maxsize=4096)
def _amount(text: str) -> Decimal | None:
    text = text.strip().replace(",", "").lstrip("¥￥")
    if not text:
        return None
    value = Decimal(text)
    if (
        not value.is_finite()
        or value < 0
        or value >= Decimal("1e10")
        or value != value.quantize(Decimal("0.01"))
    ):
        raise InvalidOperation
    return value.quantize(Decimal("0.01"))


_ISO_DAY = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


@functools.lru_cache(maxsize=4096)  # a file mostly repeats a handful of dates
def _expiry(text: str) -> dt.datetime | None:
    """The expiry a cell means, in UTC like `timezone.now()`: datetimes in two different
    zones are converted for every comparison (and again when written), once per row."""
    expiry = _local_expiry(text.strip())
    return expiry.astimezone(dt.UTC) if expiry else None


def _local_expiry(text: str) -> dt.datetime | None:
    if not text:
        return None
    zone = timezone.get_current_timezone()
    day_only = _ISO_DAY.match(text)
    if day_only:
        day = dt.date(*(int(part) for part in day_only.groups()))  # ValueError if no such day
        # A date alone means the end of that day in the platform's time zone (dates.py).
        return end_of_day(day)
    for pattern in _DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            pass
    for pattern in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return end_of_day(day)
    raise ValueError(text)


def _issue(number: int, kind: str, message: str, code: str) -> RowIssue:
    return RowIssue(number, kind, message, mask(code))


def _clean(
    number: int,
    cells: tuple[str, ...],
    batch: VoucherBatch,
    now: dt.datetime,
    index_of: Callable[[str], bytes] = folded_code_index,
) -> CleanRow | RowIssue:
    raw, serial, expiry, face_value, cost, region = cells
    code = normalise_code(raw, batch.code_format)
    if not code:
        return RowIssue(number, EMPTY, _("The code is empty."), "")
    if len(code) > MAX_CODE_LENGTH:
        return _issue(
            number,
            TOO_LONG,
            _("The code is longer than %(max)d characters.") % {"max": MAX_CODE_LENGTH},
            code,
        )
    if not _VISIBLE_ASCII.match(code):
        return _issue(
            number,
            ILLEGAL_CHARACTERS,
            _("The code may hold only letters, digits and visible symbols (no spaces)."),
            code,
        )
    serial = serial.strip()
    if len(serial) > MAX_SERIAL_LENGTH:
        return _issue(
            number,
            BAD_SERIAL,
            _("The serial is longer than %(max)d characters.") % {"max": MAX_SERIAL_LENGTH},
            code,
        )
    try:
        expires_at = _expiry(expiry)
    except ValueError:
        return _issue(
            number,
            BAD_DATE,
            _("Cannot read the expiry date (use 2026-12-31 or 2026-12-31 23:59)."),
            code,
        )
    if expires_at is not None and expires_at <= now:
        return _issue(number, EXPIRED, _("The expiry date has passed."), code)
    try:
        face_value, cost = _amount(face_value), _amount(cost)
    except (InvalidOperation, ValueError):
        return _issue(
            number,
            BAD_AMOUNT,
            _("An amount is not a number of at most two decimals, 0 or more."),
            code,
        )
    region = region.strip()
    if len(region) > MAX_REGION_LENGTH:
        return _issue(
            number,
            BAD_REGION,
            _("The region is longer than %(max)d characters.") % {"max": MAX_REGION_LENGTH},
            code,
        )
    # Indexed by its folded form: a code that reads like another voucher's once folded
    # (whatever either batch's format) is a duplicate, in the file and in the database.
    folded = fold_code(code)
    if not folded:
        return _issue(number, EMPTY, _("The code holds no letter or digit."), code)
    return CleanRow(number, code, index_of(folded), serial, expires_at, face_value, cost, region)


# --- The two passes ------------------------------------------------------------------------


# A lookup's values go as one JSON document that the server unpacks: as a list
# parameter they were quoted one by one in Python (Django binds parameters on the
# client), which cost more than the lookup itself. Each value then probes the unique
# index on its own (a LIMIT keeps the lateral subquery from being merged into a join),
# whatever the planner believes about the table: given 5,000 constants, or joined, it
# chose scans of the table or of the whole batch, which grows during an import.
_EXISTING_INDEXES = (
    "SELECT wanted.index FROM (SELECT decode(jsonb_array_elements_text(%s::jsonb), 'hex'))"
    " AS wanted(index) CROSS JOIN LATERAL"
    " (SELECT FROM vouchers_voucher WHERE secret_index = wanted.index LIMIT 1) AS found"
)
_TAKEN_SERIALS = (
    "SELECT wanted.serial FROM jsonb_array_elements_text(%s::jsonb) AS wanted(serial)"
    " CROSS JOIN LATERAL (SELECT FROM vouchers_voucher WHERE batch_id = %s"
    " AND supplier_serial <> ''"  # the partial unique index's condition
    " AND supplier_serial = wanted.serial LIMIT 1) AS found"
)


def _existing_indexes(indexes: list[bytes]) -> set[bytes]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_EXISTING_INDEXES, [json.dumps([index.hex() for index in indexes])])
            return {bytes(row[0]) for row in cursor.fetchall()}
    found = Voucher.objects.filter(secret_index__in=indexes).values_list("secret_index", flat=True)
    return {bytes(index) for index in found}


def _taken_serials(batch: VoucherBatch, serials: list[str]) -> set[str]:
    if not serials:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_TAKEN_SERIALS, [json.dumps(serials), batch.pk])
            return {row[0] for row in cursor.fetchall()}
    found = Voucher.objects.filter(batch=batch, supplier_serial__in=serials)
    return set(found.values_list("supplier_serial", flat=True))


def _validated(
    stream: BinaryIO,
    batch: VoucherBatch,
    report: ImportReport,
    rejected: set[int],
    check_database: bool = True,
    before_lookup: Callable[[], None] = lambda: None,
) -> Iterator[CleanRow]:
    """Validate every row; yield accepted rows; record issues and rejected row numbers.
    In-file duplicates are found through 64-bit keys (the blind index's first 8 bytes
    for codes, a hash for serials; a false match needs a collision of about 1 in 10^7
    for a million-row file), database duplicates in chunked index lookups, each preceded
    by `before_lookup()` (the import ends its COPY there: the connection is needed)."""
    # One set of 64-bit keys for both checks keeps a million-row file well under 300 MB.
    seen: set[int] = set()
    index_of = functools.partial(codec().blind_index, purpose=INDEX_PURPOSE)
    pending: list[CleanRow] = []
    now = timezone.now()

    def flush() -> Iterator[CleanRow]:
        existing: set[bytes] = set()
        taken_serials: set[str] = set()
        if check_database:
            before_lookup()
            existing = _existing_indexes([row.index for row in pending])
            taken_serials = _taken_serials(batch, [row.serial for row in pending if row.serial])
        for row in pending:
            if row.index in existing:
                issue = _issue(
                    row.row, ALREADY_IN_DATABASE, _("This code is already in the system."), row.code
                )
            elif row.serial and row.serial in taken_serials:
                issue = _issue(
                    row.row, BAD_SERIAL, _("This serial is already in the batch."), row.code
                )
            else:
                report.counts[ACCEPTED] += 1
                yield row
                continue
            report.add_issue(issue)
            rejected.add(row.row)
        pending.clear()

    for number, cells in _rows(stream, report):
        report.rows_total += 1
        result = _unreadable_cells(number, cells, report.limits) or _clean(
            number, cells, batch, now, index_of
        )
        if isinstance(result, CleanRow):
            code_key = int.from_bytes(result.index[:8], "little")
            serial_key = hash(("serial", result.serial)) if result.serial else None
            if code_key in seen:
                result = _issue(
                    number,
                    DUPLICATE_IN_FILE,
                    _("This code appears earlier in the file."),
                    result.code,
                )
            elif serial_key is not None and serial_key in seen:
                result = _issue(
                    number, BAD_SERIAL, _("This serial appears earlier in the file."), result.code
                )
            else:
                seen.add(code_key)
                if result.serial:
                    seen.add(serial_key)
                pending.append(result)
                if len(pending) >= LOOKUP_CHUNK:
                    yield from flush()
                continue
        report.add_issue(result)
        rejected.add(number)
    yield from flush()


_VOUCHER_FIELDS = (
    "batch_id", "sequence", "serial", "supplier_serial", "secret_ciphertext",
    "secret_index", "key_id", "expires_at", "face_value", "cost", "region",
    "import_job_id",
)  # fmt: skip
# The columns a voucher row needs beyond those, with the values a new voucher has.
_NEW_VOUCHER_COLUMNS = ("status", "frozen_from", "channel", "trace", "created_at")
_COPY_VOUCHERS = (
    f"COPY vouchers_voucher ({', '.join(_VOUCHER_FIELDS + _NEW_VOUCHER_COLUMNS)})"
    " FROM STDIN (FORMAT BINARY)"
)
_COPY_TYPES = [
    "int8", "int4", "text", "text", "bytea", "bytea", "text", "timestamptz", "numeric",
    "numeric", "text", "int8", "text", "text", "text", "jsonb", "timestamptz",
]  # fmt: skip
# A concurrent writer of the same codes: it committed first (unique violation), or it is
# writing them too and one of the two transactions had to give way (deadlock).
_WRITE_CONFLICTS = (pg_errors.UniqueViolation, pg_errors.DeadlockDetected)


class _CopyAborted(Exception):
    """Ends a COPY when the import fails: the server logs the reason it is given, and the
    actual error's text might quote the file."""


class _VoucherWriter:
    """Accepted rows on their way into the voucher table, inside the import's
    transaction (rolled back if the report ends up blocking the import).

    PostgreSQL: one binary COPY straight into the table, kept open while the next rows
    are read, validated and sealed, so the server stores rows (table and indexes) on the
    other core while Python works; `pause()` ends it before anything else uses the
    connection (the duplicate lookups, progress). Rows used to go through a temporary
    table and an INSERT ... SELECT at the end: written twice, one after the other.
    SQLite (development): bulk_create, a chunk at a time.
    """

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"
        self.rows: list[tuple] = []  # SQLite
        self._copy: Any = None
        self._open = contextlib.ExitStack()  # the COPY and its cursor while one is open
        # What every new voucher has besides the file's data; an empty trace as ready
        # JSON, so it is not serialised again for every row.
        trace = Jsonb("{}", dumps=str)
        self._new_voucher = (Voucher.Status.AVAILABLE, "", "", trace, timezone.now())

    def __enter__(self) -> _VoucherWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        if exc is None:
            self.pause()
        else:
            self._copy = None
            self._open.__exit__(_CopyAborted, _CopyAborted("The card-stock import failed."), None)

    def add(self, row: tuple) -> None:
        if not self.postgresql:
            self.rows.append(row)
            if len(self.rows) >= WRITE_CHUNK:
                self.pause()
            return
        if self._copy is None:
            cursor = self._open.enter_context(connection.cursor())
            self._copy = self._open.enter_context(cursor.cursor.copy(_COPY_VOUCHERS))
            self._copy.set_types(_COPY_TYPES)
        self._copy.write_row(row + self._new_voucher)

    def pause(self) -> None:
        """Write out what was added (ends the COPY: the connection is free again)."""
        if self.rows:
            Voucher.objects.bulk_create(
                [Voucher(**dict(zip(_VOUCHER_FIELDS, row, strict=True))) for row in self.rows]
            )
            self.rows.clear()
        self._copy = None
        self._open.close()


def card_stock_refusal(batch: VoucherBatch) -> str:
    """Why card stock cannot be imported into `batch` ("" when it can)."""
    if batch.kind != VoucherBatch.Kind.CARD_SECRET or batch.source != VoucherBatch.Source.IMPORTED:
        return _("Card stock is imported into an empty card-secret batch.")
    if batch.code_format != VoucherBatch.CodeFormat.EXACT:
        # Such a batch would store and show suppliers' codes folded (O->0, I/L->1, upper
        # case, dashes), and the supplier would no longer accept them.
        return _(
            "This batch reads codes as “%(format)s”, which would change the suppliers' "
            "codes (O to 0, I and L to 1, letter case, dashes); card stock is imported only "
            "into card-secret batches whose code format is “exact”."
        ) % {"format": batch.get_code_format_display()}
    return ""


def card_stock_import(
    *,
    batch: VoucherBatch,
    open_file: Callable[[], BinaryIO],
    file_name: str,
    actor: Actor,
    dry_run: bool = False,
    skip_rejected: bool = False,
    import_job: CardStockImport | None = None,
    on_progress: Callable[[str, int, int], Any] | None = None,
    read_seconds: float | None = None,
) -> ImportReport:
    """Validate a card-stock file and (unless `dry_run`) import its accepted rows into
    `batch`, all in one transaction. Rejected rows block the import unless
    `skip_rejected`. A dry run writes nothing; an import validates and writes in the
    same pass and rolls everything back when the report does not allow it — a failure
    anywhere leaves no voucher behind.

    Locks the batch row (imports into one batch queue up; sequence numbers stay
    gapless). Codes another import wrote in the meantime make the import fail whole;
    while that import is still running, this one waits for it on the first shared code.

    Reading is bounded (cell size, columns, XLSX expansion; `read_seconds` of time):
    a file outside the bounds raises `FileRefused`.
    """
    refusal = card_stock_refusal(batch)
    if refusal:
        raise ValidationFailed({"batch": [refusal]})
    progress = on_progress or (lambda *_args: None)
    report = ImportReport(
        file_name=file_name, dry_run=dry_run, limits=ReadLimits.from_settings(seconds=read_seconds)
    )
    rejected: set[int] = set()
    if dry_run:
        with open_file() as stream:
            for _row in _validated(stream, batch, report, rejected):
                if report.rows_total % 10_000 == 0:
                    progress("validating", report.rows_total, 0)
        report.issues.sort(key=lambda issue: issue.row)
        progress("validated", report.rows_total, report.rows_total)
        return report

    # One pass: every row is validated and each accepted one sealed and written; if the
    # report does not allow the import, everything rolls back.
    sealer = codec()
    key_id = sealer.current_key_id
    job_id = import_job.pk if import_job else None
    accepted_up_to = 0
    try:
        with transaction.atomic():
            locked = VoucherBatch.objects.select_for_update().get(pk=batch.pk)
            last = (
                Voucher.objects.filter(batch=locked)
                .order_by("-sequence")
                .values_list("sequence", flat=True)
                .first()
                or 0
            )
            with _VoucherWriter() as writer, open_file() as stream:
                for row in _validated(stream, locked, report, rejected, before_lookup=writer.pause):
                    accepted_up_to = row.row
                    last += 1
                    serial = f"{locked.code}-{last:06d}"
                    writer.add((
                        locked.pk, last, serial, row.serial,
                        sealer.encrypt(row.code, aad=code_aad(locked.code, serial)), row.index,
                        key_id, row.expires_at, row.face_value, row.cost, row.region, job_id,
                    ))  # fmt: skip
                    if report.accepted % WRITE_CHUNK == 0:
                        writer.pause()
                        progress("importing", report.accepted, 0)
            report.issues.sort(key=lambda issue: issue.row)
            if (report.rejected and not skip_rejected) or not report.accepted:
                report.blocked = bool(report.rejected and not skip_rejected)
                transaction.set_rollback(True)
                return report
            progress("writing", report.accepted, report.accepted)
            report.imported = report.accepted
            analyze_vouchers()  # claims on the new stock get a plan that uses its index
    except _WRITE_CONFLICTS:
        # Rolled back by now; the message says how many accepted rows were taken.
        taken = _taken_meanwhile(open_file, batch, rejected, accepted_up_to)
        raise _changed_meanwhile(taken) from None
    progress("imported", report.imported, report.accepted)
    return report


def _taken_meanwhile(
    open_file: Callable[[], BinaryIO], batch: VoucherBatch, rejected: set[int], up_to: int
) -> int:
    """How many rows the failed import had accepted (up to row `up_to`; `rejected` are
    the others) whose codes or serials someone else has taken since: the file is checked
    again that far."""
    rejected_now: set[int] = set()
    recheck = ImportReport(file_name="")
    with (
        open_file() as stream,
        contextlib.closing(_validated(stream, batch, recheck, rejected_now)) as rows,
    ):
        for row in rows:
            if row.row > up_to:  # every row before it has been decided
                break
    taken = sum(1 for number in rejected_now if number <= up_to and number not in rejected)
    # At least one: a writer this import had to give way to (deadlock) may not have
    # committed yet.
    return max(taken, 1)


def _changed_meanwhile(missing: int) -> ImportBlocked:
    return ImportBlocked(
        _(
            "%(n)d codes were added by someone else since the file was checked; "
            "check the file again."
        )
        % {"n": missing}
    )


def report_csv(report: ImportReport) -> str:
    """The report as CSV for download (masked codes only)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["row", "kind", "message", "code (masked)"])
    for issue in report.issues:
        writer.writerow([issue.row, issue.kind, issue.message, issue.masked_code])
    return out.getvalue()


# --- Import jobs: the admin's upload -> report -> confirm, in the web process or a worker ---


def _progress_key(job_id: int) -> str:
    return f"card-stock-import:{job_id}"


def card_stock_progress(job: CardStockImport) -> dict[str, Any]:
    from django.core.cache import caches

    progress = caches["progress"].get(_progress_key(job.pk)) or {}
    return {"status": job.status, "error": job.error, **progress}


def _progress_writer(job_id: int) -> Callable[[str, int, int], None]:
    """Progress goes out of band (the shared progress cache): the import's own
    transaction is invisible to the page that polls it."""
    from django.core.cache import caches

    cache = caches["progress"]

    def write(stage: str, done: int, total: int) -> None:
        cache.set(_progress_key(job_id), {"stage": stage, "done": done, "total": total}, 24 * 3600)

    return write


def card_stock_job_start(
    *, batch: VoucherBatch, upload_id: str, file_name: str, actor: Actor
) -> CardStockImport:
    """Register an uploaded (sealed) file and check it: here for small files, in a
    worker (with progress) for large ones (`needs_worker`), or when checking here
    runs out of its time budget."""
    from .upload_store import open_upload

    with transaction.atomic():
        job = CardStockImport.objects.create(
            batch=batch,
            file_name=printable(file_name)[:255],
            upload_id=upload_id,
            status=CardStockImport.Status.VALIDATING,
            created_by_id=actor.user_id,
        )
        job_event(job, CardStockImportEvent.Action.UPLOADED, actor)
    try:
        in_worker = needs_worker(lambda: open_upload(upload_id))
    except Exception:
        logger.warning("card-stock import %s: cannot size the upload", job.pk)
        in_worker = True
    if in_worker:
        _hand_to_worker(job, "validating")
    else:
        card_stock_job_validate(job_id=job.pk, actor=actor, in_worker=False)
    job.refresh_from_db()
    return job


def _hand_to_worker(job: CardStockImport, stage: str) -> None:
    from .tasks import card_stock_import_task, card_stock_validate_task

    _progress_writer(job.pk)(stage, 0, max(0, job.rows_total - job.rows_rejected))
    task = card_stock_validate_task if stage == "validating" else card_stock_import_task
    task.delay_on_commit(job.pk)


def card_stock_job_validate(
    *, job_id: int, actor: Actor = WORKER, in_worker: bool = True
) -> CardStockImport:
    """The validation pass of a job (no voucher written); the report is kept on the job.
    Any failure ends the job failed with the reason and removes the upload; in a web
    process a file that takes too long goes to the worker instead."""
    from django.conf import settings

    from .upload_store import open_upload

    job = CardStockImport.objects.select_related("batch").get(pk=job_id)
    if job.status != CardStockImport.Status.VALIDATING:
        return job
    try:
        report = card_stock_import(
            batch=job.batch,
            open_file=lambda: open_upload(job.upload_id),
            file_name=job.file_name,
            actor=actor,
            dry_run=True,
            on_progress=_progress_writer(job.pk),
            read_seconds=settings.CARD_STOCK_READ_SECONDS
            if in_worker
            else settings.CARD_STOCK_SYNC_READ_SECONDS,
        )
        _keep_report(job, report, actor)
    except ReadTimeExceeded as error:
        if in_worker:
            job_fail(job, failure_message(error), actor)
        else:
            _hand_to_worker(job, "validating")
        return job
    except Exception as error:
        logger.warning("card-stock import %s: check failed (%s)", job.pk, type(error).__name__)
        job_fail(job, failure_message(error), actor)
        return job
    job.refresh_from_db()
    return job


def _keep_report(job: CardStockImport, report: ImportReport, actor: Actor) -> None:
    # Conditional: an operator may have abandoned the job while it was being checked.
    with transaction.atomic():
        checked = CardStockImport.objects.filter(
            pk=job.pk, status=CardStockImport.Status.VALIDATING
        ).update(
            report=report.as_dict(),
            rows_total=report.rows_total,
            rows_rejected=report.rejected,
            status=CardStockImport.Status.VALIDATED,
        )
        if checked:
            job_event(
                job,
                CardStockImportEvent.Action.CHECKED,
                actor,
                _("%(rows)d rows, %(rejected)d rejected")
                % {"rows": report.rows_total, "rejected": report.rejected},
            )


def card_stock_job_confirm(
    *, job: CardStockImport, skip_rejected: bool, actor: Actor
) -> CardStockImport:
    """The operator confirmed the report: import, here or in a worker (large files)."""
    from django.conf import settings

    from .upload_store import open_upload

    with transaction.atomic():
        updated = CardStockImport.objects.filter(
            pk=job.pk, status=CardStockImport.Status.VALIDATED
        ).update(status=CardStockImport.Status.IMPORTING, skip_rejected=skip_rejected)
        if not updated:
            raise ImportBlocked(_("This import is not waiting for confirmation."))
        job_event(
            job,
            CardStockImportEvent.Action.CONFIRMED,
            actor,
            _("skip rejected rows") if skip_rejected else "",
        )
    job.refresh_from_db()
    try:
        in_worker = job.rows_total > settings.CARD_STOCK_SYNC_ROWS or needs_worker(
            lambda: open_upload(job.upload_id)
        )
    except Exception:
        in_worker = True
    if in_worker:
        _hand_to_worker(job, "importing")
    else:
        card_stock_job_run(job_id=job.pk, actor=actor, in_worker=False)
    job.refresh_from_db()
    return job


def card_stock_job_run(
    *, job_id: int, actor: Actor = WORKER, in_worker: bool = True
) -> CardStockImport:
    """The import pass of a confirmed job. Safe to retry or to run twice: the job row is
    locked for the whole import, so a second run waits and then finds it finished; the
    import itself is one transaction (a crash leaves the job IMPORTING, to be retried).
    Any failure ends the job failed with the reason and removes the upload; in a web
    process a file that takes too long goes to the worker instead."""
    from django.conf import settings

    from .upload_store import delete_upload, open_upload

    with transaction.atomic():
        job = CardStockImport.objects.select_for_update().select_related("batch").get(pk=job_id)
        if job.status != CardStockImport.Status.IMPORTING:
            return job
        try:
            with transaction.atomic():  # a failure rolls back to here; the lock stays
                report = card_stock_import(
                    batch=job.batch,
                    open_file=lambda: open_upload(job.upload_id),
                    file_name=job.file_name,
                    actor=actor,
                    skip_rejected=job.skip_rejected,
                    import_job=job,
                    on_progress=_progress_writer(job.pk),
                    read_seconds=settings.CARD_STOCK_READ_SECONDS
                    if in_worker
                    else settings.CARD_STOCK_SYNC_READ_SECONDS,
                )
        except ReadTimeExceeded as error:
            if in_worker:
                job_fail(job, failure_message(error), actor)
            else:
                _hand_to_worker(job, "importing")
            return job
        except Exception as error:
            logger.warning("card-stock import %s: import failed (%s)", job.pk, type(error).__name__)
            job_fail(job, failure_message(error), actor)
            return job
        job.rows_imported = report.imported
        job.status = (
            CardStockImport.Status.IMPORTED if report.imported else CardStockImport.Status.FAILED
        )
        job.error = "" if report.imported else _("Nothing was imported.")
        job.finished_at = timezone.now()
        job.save(update_fields=["rows_imported", "status", "error", "finished_at"])
        if report.imported:
            job_event(
                job,
                CardStockImportEvent.Action.IMPORTED,
                actor,
                pgettext("card-stock import", "%(count)d vouchers") % {"count": report.imported},
            )
        else:
            job_event(job, CardStockImportEvent.Action.FAILED, actor, job.error)
    delete_upload(job.upload_id)
    return job


def card_stock_job_abandon(*, job: CardStockImport, actor: Actor) -> None:
    """The operator (or the cleanup of old uploads) gives up an import that has not
    started writing; its upload is deleted."""
    from .upload_store import delete_upload

    with transaction.atomic():
        abandoned = CardStockImport.objects.filter(
            pk=job.pk,
            status__in=[CardStockImport.Status.VALIDATING, CardStockImport.Status.VALIDATED],
        ).update(status=CardStockImport.Status.ABANDONED, finished_at=timezone.now())
        if abandoned:
            job_event(job, CardStockImportEvent.Action.ABANDONED, actor)
    if job.upload_id:
        delete_upload(job.upload_id)


def card_stock_uploads_cleanup() -> int:
    """Hourly: sealed uploads older than 24 h are removed and their jobs abandoned."""
    from .upload_store import delete_stale_uploads

    removed = delete_stale_uploads()
    cutoff = timezone.now() - dt.timedelta(hours=24)
    cleanup = Actor.system("upload cleanup")
    for job in CardStockImport.objects.filter(
        created_at__lt=cutoff,
        status__in=[CardStockImport.Status.VALIDATING, CardStockImport.Status.VALIDATED],
    ):
        card_stock_job_abandon(job=job, actor=cleanup)
    return removed
