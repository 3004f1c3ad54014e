"""`manage.py points_expire`: expire every points lot whose validity has ended.

Set-based and chunked (members/services/points.py `points_expire`); safe to run again
and alongside the hourly beat task — a second run finds nothing."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from members.services import points_expire


class Command(BaseCommand):
    help = "Expire points whose validity has ended (re-runnable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--chunk", type=int, default=20_000, help="Lots per transaction (about)."
        )

    def handle(self, *args, chunk: int, **options) -> None:
        started = time.perf_counter()
        totals = points_expire(chunk=max(chunk, 1))
        self.stdout.write(
            _(
                "%(points)d points of %(members)d members expired in %(chunks)d chunks "
                "(%(seconds).1f s)."
            )
            % {**totals, "seconds": time.perf_counter() - started}
        )
