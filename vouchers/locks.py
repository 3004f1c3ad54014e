"""Row locks on vouchers, for services (here and in other apps) that read then write."""

from .models import Voucher


def voucher_for_update(*, pk: int, related: tuple[str, ...] = ()) -> Voucher:
    """Lock one voucher row inside the caller's transaction; its batch (and `related`,
    e.g. a rule another app keeps on the batch) come in the same query, unlocked."""
    return (
        Voucher.objects.select_for_update(of=("self",))
        .select_related("batch", *related)
        .get(pk=pk)
    )
