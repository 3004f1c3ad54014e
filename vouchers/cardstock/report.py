"""The row-level report of a card-stock file: its categories, the issues (with masked
codes only) and the counts, and the report as CSV for download. Reading and checking
the rows live in `reading` and `validation`."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from riskcontrol.core.spreadsheets import csv_writer

from .limits import ReadLimits

MAX_ISSUES_KEPT = 10_000

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

# What the operator reads for each category (report page, rejected-rows CSV).
KIND_LABELS = {
    ACCEPTED: _("accepted"),
    DUPLICATE_IN_FILE: _("duplicate in the file"),
    ALREADY_IN_DATABASE: _("already in the platform"),
    EMPTY: _("empty code"),
    TOO_LONG: _("code too long"),
    ILLEGAL_CHARACTERS: _("illegal characters"),
    BAD_DATE: _("unreadable date"),
    EXPIRED: _("already expired"),
    BAD_AMOUNT: _("unreadable amount"),
    BAD_SERIAL: _("bad serial"),
    BAD_REGION: _("bad region"),
}


# The kind column of the rejected-rows CSV: in English the category's code, as it always
# was (scripts read it); in another language its name there.
KIND_CSV = {
    ACCEPTED: pgettext_lazy("card-stock kind in CSV", "accepted"),
    DUPLICATE_IN_FILE: pgettext_lazy("card-stock kind in CSV", "duplicate_in_file"),
    ALREADY_IN_DATABASE: pgettext_lazy("card-stock kind in CSV", "already_in_database"),
    EMPTY: pgettext_lazy("card-stock kind in CSV", "empty"),
    TOO_LONG: pgettext_lazy("card-stock kind in CSV", "too_long"),
    ILLEGAL_CHARACTERS: pgettext_lazy("card-stock kind in CSV", "illegal_characters"),
    BAD_DATE: pgettext_lazy("card-stock kind in CSV", "bad_date"),
    EXPIRED: pgettext_lazy("card-stock kind in CSV", "expired"),
    BAD_AMOUNT: pgettext_lazy("card-stock kind in CSV", "bad_amount"),
    BAD_SERIAL: pgettext_lazy("card-stock kind in CSV", "bad_serial"),
    BAD_REGION: pgettext_lazy("card-stock kind in CSV", "bad_region"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


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


def issue_for(number: int, kind: str, message: str, code: str) -> RowIssue:
    return RowIssue(number, kind, message, mask(code))


def report_csv(issues: Iterable[Mapping[str, Any]]) -> str:
    """A report's row issues (as stored on the job: dicts with row, kind, message and
    masked_code) as CSV for download: masked codes only, formula-safe cells."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(
        [
            pgettext("export column", "row"),
            pgettext("export column", "kind"),
            pgettext("export column", "message"),
            pgettext("export column", "code (masked)"),
        ]
    )
    for issue in issues:
        writer.writerow(
            [
                issue["row"],
                str(KIND_CSV.get(issue["kind"], issue["kind"])),
                issue["message"],
                issue["masked_code"],
            ]
        )
    return out.getvalue()
