from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from members.models import Member
from members.services import lifecycle_recompute


class Command(BaseCommand):
    help = (
        "Recompute every member's lifecycle stage (new, growing, loyal, dormant) from the "
        "recency and frequency of their events, as beat does nightly. Re-runnable."
    )

    def handle(self, *args, **options) -> None:
        moved = lifecycle_recompute()
        labels = dict(Member.LifecycleStage.choices)
        for stage, count in moved.items():
            self.stdout.write(
                _("%(stage)s: %(count)d members moved into this stage.")
                % {"stage": labels[stage], "count": count}
            )
