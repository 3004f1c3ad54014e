import time
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from vouchers.dates import parse_moment
from vouchers.models import VoucherBatch
from vouchers.services import voucher_batch_activate, voucher_batch_create, voucher_batch_generate


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"Not an amount: {value!r}") from None


def _datetime(value: str | None, *, day_end: bool):
    """A date alone is the end of that day (--valid-until) or its start (--valid-from),
    in the platform time zone; a date and time keeps its time."""
    if value is None:
        return None
    parsed = parse_moment(value, day_end=day_end)
    if parsed is None:
        raise CommandError(f"Not an ISO 8601 date, or date and time: {value!r}")
    return parsed


class Command(BaseCommand):
    help = (
        "Create a voucher batch. With --quantity its codes are generated now (this waits "
        "until generation has finished); without, the batch is empty, for card-stock imports."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", choices=VoucherBatch.Kind.values, required=True)
        parser.add_argument("--quantity", type=int)
        parser.add_argument("--face-value", required=True)
        parser.add_argument("--value-type", choices=VoucherBatch.ValueType.values, default="cash")
        parser.add_argument("--percent-off")
        parser.add_argument("--max-discount")
        parser.add_argument("--min-order-amount")
        parser.add_argument("--currency", default="CNY")
        parser.add_argument("--valid-days", type=int)
        parser.add_argument(
            "--valid-from",
            help="ISO 8601, e.g. 2026-12-01T00:00+08:00; a date alone is the start of that day",
        )
        parser.add_argument(
            "--valid-until",
            help="ISO 8601; a date alone (2030-12-31) is the end of that day, 23:59:59.999999 "
            "in the platform time zone",
        )
        parser.add_argument("--per-member-limit", type=int, default=1, help="0 = no limit")
        parser.add_argument("--code-format", choices=VoucherBatch.CodeFormat.values)
        parser.add_argument("--allow-unclaimed-redemption", action="store_true")
        parser.add_argument("--activate", action="store_true")

    def handle(self, *args, **o) -> None:
        actor = Actor.system("create_batch")
        started = time.monotonic()
        try:
            batch = voucher_batch_create(
                code=o["code"],
                name=o["name"],
                kind=o["kind"],
                value_type=o["value_type"],
                face_value=_decimal(o["face_value"]),
                percent_off=_decimal(o["percent_off"]),
                max_discount=_decimal(o["max_discount"]),
                min_order_amount=_decimal(o["min_order_amount"]),
                currency=o["currency"],
                valid_days=o["valid_days"],
                valid_from=_datetime(o["valid_from"], day_end=False),
                valid_until=_datetime(o["valid_until"], day_end=True),
                per_member_limit=o["per_member_limit"] or None,
                code_format=o["code_format"],
                allow_unclaimed_redemption=o["allow_unclaimed_redemption"],
                quantity=o["quantity"],
                activate=o["activate"],
                actor=actor,
                generate=False,
            )
        except ValidationFailed as error:
            lines = [f"  {field}: {msg}" for field, msgs in error.errors.items() for msg in msgs]
            raise CommandError("The batch was not created:\n" + "\n".join(lines)) from None

        if batch.quantity:
            self.stdout.write(f"Generating {batch.quantity:,} vouchers for {batch.code} ...")
            last = [0.0]

            def progress(current: VoucherBatch) -> None:
                now = time.monotonic()
                if now - last[0] >= 2 or current.generated_count == current.quantity:
                    last[0] = now
                    share = current.generated_count / current.quantity
                    self.stdout.write(
                        f"  {current.generated_count:,} / {current.quantity:,} ({share:.0%})"
                    )

            batch = voucher_batch_generate(batch_id=batch.pk, on_chunk=progress)
        elif o["activate"] and batch.status == VoucherBatch.Status.DRAFT:
            batch = voucher_batch_activate(batch=batch, actor=actor)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Batch {batch.code} created: {batch.generated_count:,} vouchers, "
                f"status {batch.status}, in {elapsed:.1f} s."
            )
        )
