"""The demo benefit catalog for `manage.py seed_demo` (idempotent): two coupon batches
of its own (a coffee and the tea that stands in for it), then `demo_program.yaml`
through the program file — a coffee coupon with a fallback and a points price, a
privilege, a discount and a new-member coupon on the vouchers demo batches, a welcome
pack, and the tier benefit matrix of the demo tiers."""

from decimal import Decimal
from pathlib import Path

from riskcontrol.core.actors import Actor
from riskcontrol.programfile import program_apply
from vouchers.demo import demo_batches
from vouchers.models import VoucherBatch

PROGRAM_FILE = Path(__file__).with_name("demo_program.yaml")

DEMO_BATCHES = [
    {
        "code": "COFFEE-DEMO",
        "name": "咖啡兑换券（中杯）",
        "value_type": VoucherBatch.ValueType.GIFT,
        "face_value": Decimal("25.00"),
        "valid_days": 30,
        "per_member_limit": None,  # a monthly benefit: one member holds several
        "quantity": 500,
    },
    {
        "code": "TEA-DEMO",
        "name": "茶饮兑换券",
        "value_type": VoucherBatch.ValueType.GIFT,
        "face_value": Decimal("20.00"),
        "valid_days": 30,
        "per_member_limit": None,
        "quantity": 200,
    },
]


def seed() -> list[str]:
    """Create the demo batches and apply the demo catalog; returns the benefit codes a
    demo grant can name."""
    actor = Actor.system("seed_demo")
    demo_batches(DEMO_BATCHES, actor=actor)
    program_apply(PROGRAM_FILE.read_text(encoding="utf-8"), actor=actor)
    return ["COFFEE", "WELCOME-PACK"]
