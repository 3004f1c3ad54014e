from django.utils.translation import gettext_lazy as _

from riskcontrol.core.errors import DomainError


class SoldOut(DomainError):
    code = "sold_out"
    title = _("No voucher is left in this batch.")


class LimitReached(DomainError):
    code = "limit_reached"
    title = _("The member already holds as many vouchers of this batch as allowed.")


class BatchNotActive(DomainError):
    code = "batch_not_active"
    title = _("This batch is not open for claims right now.")


class InvalidTransition(DomainError):
    code = "invalid_transition"
    title = _("This change is not allowed from the current status.")


class VoucherExpired(DomainError):
    code = "voucher_expired"
    title = _("This voucher has expired.")


class VoucherFrozen(DomainError):
    code = "voucher_frozen"
    title = _("This voucher is frozen.")


class VoucherVoid(DomainError):
    code = "voucher_void"
    title = _("This voucher has been voided.")
