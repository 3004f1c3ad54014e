from django.core.management.base import BaseCommand, CommandError

from riskcontrol.core.errors import ValidationFailed
from riskcontrol.partners.scopes import SCOPES
from riskcontrol.services import partner_client_create, partner_key_issue


class Command(BaseCommand):
    help = "Register a partner client and print its API key (shown once, stored hashed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, from: {', '.join(SCOPES)}",
        )
        parser.add_argument("--store", default="", help="Bind the client to one store code.")

    def handle(self, *args, name: str, scopes: str, store: str, **options) -> None:
        scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        try:
            client = partner_client_create(name=name, scopes=scope_list, store_code=store)
        except ValidationFailed as error:
            messages = [f"{field}: {msg}" for field, msgs in error.errors.items() for msg in msgs]
            raise CommandError("; ".join(messages) + f" ({error.detail})") from None
        _key, raw_key = partner_key_issue(client=client)
        self.stdout.write(f"Partner client {client.name!r} created (id {client.pk}).")
        self.stdout.write(f"Scopes: {', '.join(client.scopes) or '(none)'}")
        if client.store_code:
            self.stdout.write(f"Bound to store: {client.store_code}")
        self.stdout.write("API key (shown once, copy it now):")
        self.stdout.write(raw_key)
