"""How a transition report (changed rows, rows left unchanged by status) is said in the
console's messages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..models import Voucher
from ..services import TransitionReport


def report_message(report: TransitionReport, done: str) -> str:
    parts = [_("%(count)d %(done)s.") % {"count": report.changed, "done": done}]
    if report.skipped:
        skipped = ", ".join(
            f"{count} {Voucher.Status(status).label}"
            for status, count in sorted(report.skipped.items())
        )
        parts.append(_("Left unchanged: %(skipped)s.") % {"skipped": skipped})
    return " ".join(str(part) for part in parts)
