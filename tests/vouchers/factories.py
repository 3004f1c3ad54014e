from decimal import Decimal

from riskcontrol.core.actors import Actor
from vouchers.models import VoucherBatch
from vouchers.services import voucher_batch_create, voucher_batch_generate

_counter = iter(range(1, 10**9))


def make_batch(quantity: int = 10, *, activate: bool = True, **overrides) -> VoucherBatch:
    """A generated batch, its vouchers created inline (no worker needed)."""
    arguments = {
        "code": f"B{next(_counter):04d}",
        "name": "Test batch",
        "face_value": Decimal("10.00"),
        "valid_days": 30,
        "quantity": quantity,
        "activate": activate,
        "actor": Actor.system("test"),
        "generate": False,
    }
    arguments.update(overrides)
    batch = voucher_batch_create(**arguments)
    if batch.quantity:
        batch = voucher_batch_generate(batch_id=batch.pk)
    return batch
