"""The card-stock import service: validate a file with a row-level report before anything
is written, then import it all or nothing.

Every pass streams the file and keeps memory flat whatever its size, remembering only
64-bit keys of the codes and serials it has seen and the rows it rejected. The report
(a dry run) writes nothing; the confirmed import validates again and writes the
accepted rows in the same pass, in one transaction (PostgreSQL: a binary COPY straight
into the voucher table), rolled back whole when the report does not allow the import.
Reading is bounded (`limits`, `xlsx`); the jobs that run an import for the console and
record who did what live in `jobs` and `events`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, BinaryIO

from django.db import transaction
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed
from riskcontrol.crypto import codec

from ..models import CardStockImport, Voucher, VoucherBatch
from ..secrets import code_aad
from ..statistics import analyze_vouchers
from .limits import ReadLimits
from .report import ImportReport
from .validation import validated_rows
from .writer import WRITE_CHUNK, WRITE_CONFLICTS, VoucherWriter


class ImportBlocked(DomainError):
    code = "import_blocked"
    title = _("The import was not carried out.")


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
            for _row in validated_rows(stream, batch, report, rejected):
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
            with VoucherWriter() as writer, open_file() as stream:
                for row in validated_rows(
                    stream, locked, report, rejected, before_lookup=writer.pause
                ):
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
    except WRITE_CONFLICTS:
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
        contextlib.closing(validated_rows(stream, batch, recheck, rejected_now)) as rows,
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
