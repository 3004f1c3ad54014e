from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from entitlements.services.periodic import PeriodRow, period_grants


class Command(BaseCommand):
    help = (
        "Grant the each_period tier benefits of the current period to the members of "
        "their tier that lack them (as beat does nightly). Re-runnable: nothing is "
        "granted twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the grants instead of making them."
        )
        parser.add_argument("--chunk", type=int, default=1000, help="Members per query.")
        parser.add_argument(
            "--shard",
            default="0/1",
            help="I/N: only members whose id is I modulo N (run N commands side by side).",
        )

    def handle(self, *args, dry_run: bool, chunk: int, shard: str, **options) -> None:
        if chunk < 1:
            raise CommandError(_("--chunk must be at least 1."))
        index, _slash, count = shard.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise CommandError(_("--shard must be I/N with 0 <= I < N, e.g. 0/4."))
        parts = period_grants(dry_run=dry_run, chunk=chunk, shard=(int(index), int(count)))
        if not parts:
            self.stdout.write(_("No each_period rows in the tier benefit matrix."))
        for part in parts:
            self.stdout.write(self._line(part, dry_run))

    def _line(self, part: PeriodRow, dry_run: bool) -> str:
        row, report = part.row, part.report
        where = _("%(tier)s · %(benefit)s, period %(period)s from %(start)s") % {
            "tier": row.tier.code,
            "benefit": row.benefit.code,
            "period": row.period,
            "start": part.start.isoformat(),
        }
        if dry_run and not report.notes:
            done = _("would grant %(n)d") % {"n": report.would_grant}
        else:
            done = report.summary()
        return "; ".join([f"{where}: {done}", *report.notes])
