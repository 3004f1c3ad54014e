"""Row locks on vouchers, for services (here and in other apps) that read then write."""

from .models import Voucher


def voucher_for_update(*, pk: int) -> Voucher:
    """Lock one voucher row (its batch loaded, not locked) inside the caller's transaction."""
    return (
        Voucher.objects.select_for_update(of=("self",)).select_related("batch", "member").get(pk=pk)
    )
