"""Demo data for a first run. Each app owns its demo data (`<app>/demo.py`); this
command runs them in layer order (riskcontrol, the demo member program
(`members/demo_program.yaml`, through the program file's apply), members, vouchers,
the benefit catalog (`entitlements/demo_program.yaml`, on the demo batches), redemption;
the partner key last) and lives in `config`, the one package allowed to
import every app. Analytics only reads, so it seeds nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from entitlements import demo as entitlements_demo
from members import demo as members_demo
from redemption import demo as redemption_demo
from riskcontrol import demo as riskcontrol_demo
from riskcontrol.core.actors import Actor
from riskcontrol.programfile import program_apply
from vouchers import demo as vouchers_demo


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins and a fresh partner API key."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (never in production)."
        )

    def handle(self, *args, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed demo users with DEBUG off; pass --force.")
        logins = riskcontrol_demo.seed_users()
        members_demo.retire_legacy_tiers()
        program_apply(
            members_demo.PROGRAM_FILE.read_text(encoding="utf-8"),
            actor=Actor.system("seed_demo"),
        )
        member_ids = members_demo.seed()
        batch_codes = vouchers_demo.seed()
        benefit_codes = entitlements_demo.seed()
        store_codes = redemption_demo.seed()
        raw_key = riskcontrol_demo.seed_partner_key()

        line = "=" * 72
        out = self.stdout.write
        out(line)
        out("Quanyi demo — http://127.0.0.1:8000/admin/")
        for role, username, password in logins:
            out(f"  {role:<13} login: {username:<8} password: {password}")
        out(
            "  Store page (clerk at "
            f"{store_codes[0]}; manager at {', '.join(store_codes)}): http://127.0.0.1:8000/store/"
        )
        out(f"  Partner API key (new each run, earlier demo keys revoked):\n    {raw_key}")
        out(
            "  Try: curl -H 'Authorization: Api-Key "
            f"{raw_key}' http://127.0.0.1:8000/api/v1/members/{member_ids[0]}"
        )
        out(
            "  Claim: curl -X POST -H 'Content-Type: application/json' -H 'Authorization: "
            f'Api-Key {raw_key}\' -d \'{{"member": "{member_ids[0]}"}}\' '
            f"http://127.0.0.1:8000/api/v1/batches/{batch_codes[0]}/claims"
        )
        out(
            "  Grant a tier benefit: curl -X POST -H 'Content-Type: application/json' -H "
            f"'Authorization: Api-Key {raw_key}' -d "
            f'\'{{"benefit": "{benefit_codes[0]}", "via": "tier"}}\' '
            f"http://127.0.0.1:8000/api/v1/members/{member_ids[0]}/grants"
        )
        out("  API docs: http://127.0.0.1:8000/api/v1/docs")
        out(line)
