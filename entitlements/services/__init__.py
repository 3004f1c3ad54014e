"""The entitlements services: other apps and the API call these, never the modules.

- `benefit_grant` (grants.py): the one path by which a member receives a benefit.
- `grant_revoke`, `grant_ship`, `grant_deliver` (fulfilment.py): after a grant.
- `quota_*`, `budget_*` (quotas.py): the counters, one conditional statement each.
"""

from .fulfilment import grant_deliver, grant_revoke, grant_ship, revoke_refusal
from .grants import GrantResult, benefit_get, benefit_grant, grant_account, grant_address

__all__ = [
    "GrantResult",
    "benefit_get",
    "benefit_grant",
    "grant_account",
    "grant_address",
    "grant_deliver",
    "grant_revoke",
    "grant_ship",
    "revoke_refusal",
]
