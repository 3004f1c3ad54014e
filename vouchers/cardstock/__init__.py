"""Card stock: wholesale card secrets (卡密) imported from CSV or XLSX into an empty
card-secret batch, with a row-level report before anything is written.

Here live reading a file within bounds (`limits`, `xlsx`, `reading`), checking each row
(`validation`) and the report (`report`), the COPY writer (`writer`), the import service
`card_stock_import` (`service`), the console's import jobs with their progress
(`jobs`) and audit events (`events`), and the sealed store of uploaded files
(`uploads`). Not here: the console's pages (`vouchers.admin`), the Celery tasks that
run a job in a worker (`vouchers.tasks`), the stale-job sweeper (`vouchers.sweeper`),
and what happens to vouchers once imported (`vouchers.services`). Callers import from
the package: `from vouchers.cardstock import card_stock_import`.
"""

from .events import (
    JOB_FAILURES,
    WORKER,
    card_stock_cli_job_begin,
    card_stock_cli_job_end,
    failure_message,
    job_event,
    job_fail,
    printable,
)
from .jobs import (
    card_stock_job_abandon,
    card_stock_job_confirm,
    card_stock_job_run,
    card_stock_job_start,
    card_stock_job_validate,
    card_stock_progress,
    card_stock_uploads_cleanup,
)
from .limits import FileRefused, ReadLimits, ReadTimeExceeded, bounded_lines
from .reading import FIELDS, HEADERS, estimate_rows, needs_worker
from .report import ImportReport, RowIssue, kind_label, mask, report_csv
from .service import ImportBlocked, card_stock_import, card_stock_refusal
from .uploads import (
    EncryptingUploadHandler,
    SealedUploadedFile,
    SealedWriter,
    delete_stale_uploads,
    delete_upload,
    open_upload,
    seal_stream,
)
from .validation import CleanRow
from .xlsx import xlsx_part_sizes, xlsx_rows

__all__ = [
    "FIELDS",
    "HEADERS",
    "JOB_FAILURES",
    "WORKER",
    "CleanRow",
    "EncryptingUploadHandler",
    "FileRefused",
    "ImportBlocked",
    "ImportReport",
    "ReadLimits",
    "ReadTimeExceeded",
    "RowIssue",
    "SealedUploadedFile",
    "SealedWriter",
    "bounded_lines",
    "card_stock_cli_job_begin",
    "card_stock_cli_job_end",
    "card_stock_import",
    "card_stock_job_abandon",
    "card_stock_job_confirm",
    "card_stock_job_run",
    "card_stock_job_start",
    "card_stock_job_validate",
    "card_stock_progress",
    "card_stock_refusal",
    "card_stock_uploads_cleanup",
    "delete_stale_uploads",
    "delete_upload",
    "estimate_rows",
    "failure_message",
    "job_event",
    "job_fail",
    "kind_label",
    "mask",
    "needs_worker",
    "open_upload",
    "printable",
    "report_csv",
    "seal_stream",
    "xlsx_part_sizes",
    "xlsx_rows",
]
