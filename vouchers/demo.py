"""A demo batch for `manage.py seed_demo` (idempotent): claimable with the demo key."""

from decimal import Decimal

from riskcontrol.core.actors import Actor

from .models import VoucherBatch
from .services import voucher_batch_create, voucher_batch_generate

DEMO_BATCHES = [
    {
        "code": "WELCOME10",
        "name": "新人券 满50减10",
        "value_type": VoucherBatch.ValueType.THRESHOLD,
        "face_value": Decimal("10.00"),
        "min_order_amount": Decimal("50.00"),
        "valid_days": 30,
        "quantity": 1000,
    },
    {
        "code": "GOLD20",
        "name": "金卡会员 8折券（最高减20）",
        "value_type": VoucherBatch.ValueType.PERCENT,
        "percent_off": Decimal("20"),
        "max_discount": Decimal("20.00"),
        "valid_days": 14,
        "quantity": 500,
    },
]


def demo_batches(specs: list[dict], *, actor: Actor) -> None:
    """Create each batch of `specs` that is not there yet (active) and generate what it
    lacks; re-runnable. Other apps' demo data builds its batches with it too."""
    for spec in specs:
        batch = VoucherBatch.objects.filter(code=spec["code"]).first()
        if batch is None:
            batch = voucher_batch_create(**spec, activate=True, actor=actor, generate=False)
        voucher_batch_generate(batch_id=batch.pk)


def seed() -> list[str]:
    demo_batches(DEMO_BATCHES, actor=Actor.system("seed_demo"))
    return [spec["code"] for spec in DEMO_BATCHES]
