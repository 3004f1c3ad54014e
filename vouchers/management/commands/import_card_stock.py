import getpass
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed
from vouchers.cardstock import (
    JOB_FAILURES,
    card_stock_cli_job_begin,
    card_stock_cli_job_end,
    card_stock_import,
    failure_message,
)
from vouchers.dates import date_rule
from vouchers.models import VoucherBatch


class Command(BaseCommand):
    help = (
        "Import wholesale card secrets from a CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX file "
        "into an empty card-secret batch, with a row-level report. Exit status: --dry-run 0 "
        "when no row is rejected, 1 otherwise; an import 0 when rows were imported, 1 when it "
        "was blocked or nothing was imported."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--batch", required=True, help="Batch code.")
        parser.add_argument("--dry-run", action="store_true", help="Only check; write nothing.")
        parser.add_argument(
            "--skip-rejected", action="store_true", help="Import the accepted rows anyway."
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(
        self,
        *args,
        file: str,
        batch: str,
        dry_run: bool,
        skip_rejected: bool,
        format: str,
        **options,
    ):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        target = VoucherBatch.objects.filter(code=batch).first()
        if target is None:
            raise CommandError(f"No batch with code {batch!r}.")
        actor = Actor.system(f"import_card_stock ({_os_user()})")
        job = None
        if not dry_run:
            job = card_stock_cli_job_begin(batch=target, file_name=path.name, actor=actor)
        try:
            report = card_stock_import(
                batch=target,
                open_file=lambda: path.open("rb"),
                file_name=path.name,
                actor=actor,
                dry_run=dry_run,
                skip_rejected=skip_rejected,
                import_job=job,
            )
        except ValidationFailed as error:
            self._fail_job(job, actor, failure_message(error))
            messages = [f"{field}: {msg}" for field, msgs in error.errors.items() for msg in msgs]
            raise CommandError("; ".join(messages)) from None
        except DomainError as error:
            self._fail_job(job, actor, failure_message(error))
            raise CommandError(str(error.detail)) from None
        except JOB_FAILURES as error:  # the kind of failure only: no file text shown
            self._fail_job(job, actor, failure_message(error))
            raise CommandError(failure_message(error)) from None
        except Exception as error:  # a bug: the job still must not stay "importing"
            self._fail_job(job, actor, failure_message(error))
            raise
        if job is not None:
            card_stock_cli_job_end(job=job, actor=actor, report=report)
        self._print(report, format)
        failed = report.rejected > 0 if dry_run else report.imported == 0
        if failed:
            sys.exit(1)

    def _fail_job(self, job, actor: Actor, message: str) -> None:
        if job is not None:
            card_stock_cli_job_end(job=job, actor=actor, error=message)

    def _print(self, report, format: str) -> None:
        if format == "json":
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
            return
        out = self.stdout.write
        kind_of_file = ", ".join(part for part in (report.file_format, report.encoding) if part)
        out(f"File: {report.file_name} ({kind_of_file})")
        out(
            f"Rows: {report.rows_total:,}   accepted: {report.accepted:,}   "
            f"rejected: {report.rejected:,}"
        )
        for kind, count in sorted(report.counts.items()):
            out(f"  {kind:<22} {count:,}")
        out(date_rule())
        for issue in report.issues[:50]:
            out(f"  row {issue.row}: {issue.kind} — {issue.message} {issue.masked_code}")
        if len(report.issues) > 50:
            out(f"  ... and {len(report.issues) - 50:,} more (use --format json for all)")
        if report.dry_run:
            out("Dry run: nothing was written.")
        elif report.blocked:
            out(self.style.ERROR("Blocked: rejected rows. Fix the file or pass --skip-rejected."))
        else:
            out(self.style.SUCCESS(f"Imported {report.imported:,} vouchers."))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown user"
