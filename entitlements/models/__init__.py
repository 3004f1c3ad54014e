"""The benefits tables, one module per concern: `catalog` (benefits, their sources,
equivalent fallbacks and pack items), `matrix` (the tier benefit matrix and the quota
counters) and `grants` (the one record of a member receiving a benefit). The rules that
move these rows live in `entitlements/services/`."""

from .catalog import Benefit, BenefitFallback, BenefitSource, PackItem
from .grants import Grant, GrantVoucher
from .matrix import QuotaUse, TierBenefit

__all__ = [
    "Benefit",
    "BenefitFallback",
    "BenefitSource",
    "Grant",
    "GrantVoucher",
    "PackItem",
    "QuotaUse",
    "TierBenefit",
]
