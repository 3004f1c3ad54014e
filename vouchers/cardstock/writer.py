"""The COPY writer: accepted card-stock rows on their way into the voucher table, inside
the import's transaction. Which rows are accepted is decided in `validation`; the
transaction, the batch lock and the report live in the import service.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from ..models import Voucher

WRITE_CHUNK = 20_000

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
WRITE_CONFLICTS = (pg_errors.UniqueViolation, pg_errors.DeadlockDetected)


class _CopyAborted(Exception):
    """Ends a COPY when the import fails: the server logs the reason it is given, and the
    actual error's text might quote the file."""


class VoucherWriter:
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

    def __enter__(self) -> VoucherWriter:
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
