from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from entitlements.services.upgrades import upgrade_grants_missing


class Command(BaseCommand):
    help = (
        "Grant the on_upgrade tier benefits that upgrades of the last days are missing "
        "(the safety net beat runs hourly). Re-runnable: nothing is granted twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7, help="Look back this many days.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the grants instead of making them."
        )

    def handle(self, *args, days: int, dry_run: bool, **options) -> None:
        if days < 1:
            raise CommandError(_("--days must be at least 1."))
        report = upgrade_grants_missing(days=days, dry_run=dry_run)
        if dry_run:
            self.stdout.write(_("Would grant %(n)d.") % {"n": report.would_grant})
        else:
            self.stdout.write(report.summary())
        for note in report.notes:
            self.stdout.write(note)
