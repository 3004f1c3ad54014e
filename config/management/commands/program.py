"""`manage.py program apply FILE [--dry-run]` and `manage.py program export`: the member
program as one YAML/JSON file (PROGRAM.md). The work is riskcontrol.programfile's; the
sections come from the apps."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from riskcontrol.core.actors import Actor
from riskcontrol.programfile import ProgramInvalid, program_apply, program_dump, program_export


class Command(BaseCommand):
    help = "Apply a program file (YAML or JSON; --dry-run shows the changes) or export one."
    stealth_options = ("stdin",)

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        apply = commands.add_parser("apply", help="Validate and apply a program file.")
        apply.add_argument("file", help="Path of the YAML or JSON file; - reads standard input.")
        apply.add_argument(
            "--dry-run", action="store_true", help="Show what would change; write nothing."
        )
        commands.add_parser("export", help="Write the current program as YAML.")

    def handle(self, *args, action: str, **options) -> None:
        if action == "export":
            self.stdout.write(program_dump(program_export()), ending="")
            return
        path = options["file"]
        try:
            text = (
                options.get("stdin", sys.stdin).read()
                if path == "-"
                else Path(path).read_text(encoding="utf-8")
            )
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from None
        try:
            report = program_apply(
                text, actor=Actor.system("manage.py program apply"), dry_run=options["dry_run"]
            )
        except ProgramInvalid as error:
            for place, message in error.problems:
                self.stderr.write(f"{place}: {message}")
            raise CommandError(str(error.detail)) from None
        if report.no_changes:
            self.stdout.write("No changes.")
            return
        prefix = "Would " if report.dry_run else ""
        for change in report.changes:
            self.stdout.write(f"{prefix}{change.describe()}")
        if report.dry_run:
            self.stdout.write(f"Dry run: {len(report.changes)} change(s), nothing written.")
        else:
            self.stdout.write(f"Applied {len(report.changes)} change(s).")
