from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from members.services import tiers_review


class Command(BaseCommand):
    help = (
        "Review member tiers: holds and manual tiers that have ended (as beat does hourly); "
        "with --everyone, re-evaluate every member (after a threshold change). Re-runnable."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--everyone", action="store_true", help="Re-evaluate every member.")
        parser.add_argument("--chunk", type=int, default=1000, help="Members per transaction.")

    def handle(self, *args, everyone: bool, chunk: int, **options) -> None:
        if chunk < 1:
            raise CommandError(_("--chunk must be at least 1."))
        result = tiers_review(everyone=everyone, chunk=chunk)
        self.stdout.write(
            _("Members reviewed: %(reviewed)d; tier changes: %(changed)d.")
            % {"reviewed": result.reviewed, "changed": result.changed}
        )
