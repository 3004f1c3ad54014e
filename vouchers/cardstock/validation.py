"""Checking a card-stock file row by row: each row's cells (code, serial, expiry,
amounts, region) read strictly, duplicates found in the file and in the database, and
every refusal recorded in the report with the code masked. Nothing here writes; the
import service hands the accepted rows to the writer.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.crypto import codec, normalise_code

from ..dates import end_of_day
from ..models import Voucher, VoucherBatch
from ..secrets import INDEX_PURPOSE, fold_code, folded_code_index
from .limits import ReadLimits
from .reading import file_rows
from .report import (
    ACCEPTED,
    ALREADY_IN_DATABASE,
    BAD_AMOUNT,
    BAD_DATE,
    BAD_REGION,
    BAD_SERIAL,
    DUPLICATE_IN_FILE,
    EMPTY,
    EXPIRED,
    ILLEGAL_CHARACTERS,
    TOO_LONG,
    ImportReport,
    RowIssue,
    issue_for,
)

MAX_CODE_LENGTH = 128
MAX_SERIAL_LENGTH = 128
MAX_REGION_LENGTH = 64
LOOKUP_CHUNK = 5_000
_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")

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
        return issue_for(
            number,
            TOO_LONG,
            _("The code is longer than %(max)d characters.") % {"max": MAX_CODE_LENGTH},
            code,
        )
    if not _VISIBLE_ASCII.match(code):
        return issue_for(
            number,
            ILLEGAL_CHARACTERS,
            _("The code may hold only letters, digits and visible symbols (no spaces)."),
            code,
        )
    serial = serial.strip()
    if len(serial) > MAX_SERIAL_LENGTH:
        return issue_for(
            number,
            BAD_SERIAL,
            _("The serial is longer than %(max)d characters.") % {"max": MAX_SERIAL_LENGTH},
            code,
        )
    try:
        expires_at = _expiry(expiry)
    except ValueError:
        return issue_for(
            number,
            BAD_DATE,
            _("Cannot read the expiry date (use 2026-12-31 or 2026-12-31 23:59)."),
            code,
        )
    if expires_at is not None and expires_at <= now:
        return issue_for(number, EXPIRED, _("The expiry date has passed."), code)
    try:
        face_value, cost = _amount(face_value), _amount(cost)
    except (InvalidOperation, ValueError):
        return issue_for(
            number,
            BAD_AMOUNT,
            _("An amount is not a number of at most two decimals, 0 or more."),
            code,
        )
    region = region.strip()
    if len(region) > MAX_REGION_LENGTH:
        return issue_for(
            number,
            BAD_REGION,
            _("The region is longer than %(max)d characters.") % {"max": MAX_REGION_LENGTH},
            code,
        )
    # Indexed by its folded form: a code that reads like another voucher's once folded
    # (whatever either batch's format) is a duplicate, in the file and in the database.
    folded = fold_code(code)
    if not folded:
        return issue_for(number, EMPTY, _("The code holds no letter or digit."), code)
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


def validated_rows(
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
                issue = issue_for(
                    row.row, ALREADY_IN_DATABASE, _("This code is already in the system."), row.code
                )
            elif row.serial and row.serial in taken_serials:
                issue = issue_for(
                    row.row, BAD_SERIAL, _("This serial is already in the batch."), row.code
                )
            else:
                report.counts[ACCEPTED] += 1
                yield row
                continue
            report.add_issue(issue)
            rejected.add(row.row)
        pending.clear()

    for number, cells in file_rows(stream, report):
        report.rows_total += 1
        result = _unreadable_cells(number, cells, report.limits) or _clean(
            number, cells, batch, now, index_of
        )
        if isinstance(result, CleanRow):
            code_key = int.from_bytes(result.index[:8], "little")
            serial_key = hash(("serial", result.serial)) if result.serial else None
            if code_key in seen:
                result = issue_for(
                    number,
                    DUPLICATE_IN_FILE,
                    _("This code appears earlier in the file."),
                    result.code,
                )
            elif serial_key is not None and serial_key in seen:
                result = issue_for(
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
