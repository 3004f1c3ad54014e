from django.utils.translation import gettext_lazy as _

from riskcontrol.core.errors import DomainError


class AlreadyRedeemed(DomainError):
    code = "already_redeemed"
    title = _("This voucher has already been redeemed.")


class NotClaimed(DomainError):
    code = "not_claimed"
    title = _("This voucher has not been claimed by a member.")


class NotRedeemableHere(DomainError):
    code = "not_redeemable_here"
    title = _("This voucher cannot be redeemed at this store.")


class OutsideRedemptionWindow(DomainError):
    code = "outside_redemption_window"
    title = _("This voucher cannot be redeemed at this time.")


class BelowMinimumOrder(DomainError):
    code = "below_minimum_order"
    title = _("The order amount is below this voucher's minimum.")


class TokenExpired(DomainError):
    code = "token_expired"
    title = _("This QR code has expired. Ask the member to refresh it.")


class ReversalWindowPassed(DomainError):
    code = "reversal_window_passed"
    title = _("This redemption is too old to be reversed.")


class AlreadyReversed(DomainError):
    code = "already_reversed"
    title = _("This redemption has already been reversed.")
