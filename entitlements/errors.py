"""The grant refusals (API.md's list) and the revoke refusal, each with a stable code."""

from django.utils.translation import gettext_lazy as _

from members.services import InsufficientPoints
from riskcontrol.core.errors import DomainError


class GrantRefused(DomainError):
    """Base of the refusals `benefit_grant` records as a failed grant."""

    status = 409


class NotEligible(GrantRefused):
    code = "not_eligible"
    title = _("The member does not qualify for this benefit.")


class QuotaExhausted(GrantRefused):
    code = "quota_exhausted"
    title = _("The member has used this benefit's quota for the period.")


class OutOfStock(GrantRefused):
    code = "out_of_stock"
    title = _("No source and no equivalent benefit has stock left.")


class BudgetExhausted(GrantRefused):
    code = "budget_exhausted"
    title = _("This benefit's budget is used up.")


class BenefitInactive(GrantRefused):
    code = "benefit_inactive"
    title = _("This benefit is not active right now.")


class RegionUnavailable(GrantRefused):
    code = "region_unavailable"
    title = _("This benefit is not offered in the member's region.")


class FulfilmentOutOfOrder(DomainError):
    """A gift moved out of its order: shipped when it is not waiting to ship, delivered
    when it was not shipped (the console's fulfilment queue)."""

    code = "fulfilment_out_of_order"
    status = 409
    title = _("The gift is not at that step of its delivery.")


class NotRevocable(DomainError):
    code = "not_revocable"
    status = 409
    title = _("This grant cannot be revoked.")


REFUSALS = (
    NotEligible,
    QuotaExhausted,
    InsufficientPoints,
    OutOfStock,
    BudgetExhausted,
    BenefitInactive,
    RegionUnavailable,
)
