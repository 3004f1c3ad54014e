from django.core.management.base import BaseCommand

from riskcontrol.crypto import codec, reencryption_steps


class Command(BaseCommand):
    help = (
        "Re-encrypt every voucher code, member contact and stored API response under the "
        "newest key of VOUCHER_KEYS, in short chunks while the system keeps serving. "
        "Interrupt it any time and run it again; it continues where it stopped. Remove an "
        "old key from VOUCHER_KEYS only after a run that reports nothing left. The tables "
        "come from the apps (`AppConfig.reencryption`); each one is reported by name."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, chunk_size: int, **options) -> None:
        current = codec().current_key_id
        self.stdout.write(f"Newest key: {current}")
        steps = reencryption_steps()
        for step in steps:
            label = f"{step.label} ({step.table})"
            todo = step.stale_count(key_id=current)
            done = 0
            self.stdout.write(f"{label}: {todo:,} to re-encrypt")
            for count in step.run(chunk_size=chunk_size):
                done += count
                self.stdout.write(f"  {label}: {done:,} re-encrypted")
            self.stdout.write(self.style.SUCCESS(f"{label}: done, {done:,} re-encrypted"))
        left = {step.table: step.stale_count(key_id=current) for step in steps}
        for table, count in left.items():
            if count:
                self.stdout.write(self.style.WARNING(f"{table}: {count:,} rows under older keys"))
        total = sum(left.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Nothing left under older keys ({total} rows in {', '.join(left)})."
            )
            if not total
            else self.style.WARNING(f"{total} rows still under older keys; run again.")
        )
