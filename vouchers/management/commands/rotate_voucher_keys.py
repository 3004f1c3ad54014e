from django.core.management.base import BaseCommand

from members.models import Member
from members.services import members_reencrypt
from riskcontrol.crypto import codec
from riskcontrol.models import IdempotencyKey
from riskcontrol.services import idempotency_reencrypt
from vouchers.models import Voucher
from vouchers.services import vouchers_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every voucher code, member contact and stored API response under the "
        "newest key of VOUCHER_KEYS, in short chunks while the system keeps serving. "
        "Interrupt it any time and run it again; it continues where it stopped. Remove an "
        "old key from VOUCHER_KEYS only after a run that reports nothing left."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, chunk_size: int, **options) -> None:
        current = codec().current_key_id
        self.stdout.write(f"Newest key: {current}")
        parts = [
            ("voucher codes", Voucher.objects.exclude(key_id=current), vouchers_reencrypt),
            (
                "member contacts",
                Member.objects.exclude(pii_key_id__in=["", current]),
                members_reencrypt,
            ),
            (
                "stored API responses",
                IdempotencyKey.objects.filter(state=IdempotencyKey.State.COMPLETED),
                idempotency_reencrypt,
            ),
        ]
        for label, pending, reencrypt in parts:
            todo = pending.count()
            done = 0
            self.stdout.write(f"{label}: {todo:,} to check")
            for count in reencrypt(chunk_size=chunk_size):
                done += count
                self.stdout.write(f"  {label}: {done:,} re-encrypted")
            self.stdout.write(self.style.SUCCESS(f"{label}: done, {done:,} re-encrypted"))
        left = (
            Voucher.objects.exclude(key_id=current).count()
            + Member.objects.exclude(pii_key_id__in=["", current]).count()
        )
        self.stdout.write(
            self.style.SUCCESS(f"Nothing left under older keys ({left} rows).")
            if not left
            else self.style.WARNING(f"{left} rows still under older keys; run again.")
        )
