"""The benefits section of the operator console, one module per concern:
`admin_catalog` (benefits with their sources, fallbacks and pack items),
`admin_matrix` (the tier benefit matrix as one grid), `admin_grants` (grants, their
detail and revoke) and `admin_fulfilment` (the physical-gift queue, mixed into the
grants page). Every change goes through `entitlements.services`."""

from django.contrib import admin

from .admin_catalog import BenefitAdmin
from .admin_grants import GrantAdmin
from .admin_matrix import TierBenefitAdmin
from .models import Benefit, Grant, TierBenefit

admin.site.register(Benefit, BenefitAdmin)
admin.site.register(TierBenefit, TierBenefitAdmin)
admin.site.register(Grant, GrantAdmin)
