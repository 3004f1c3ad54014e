"""The entitlements services: other apps and the API call these, never the modules.

- `benefit_grant` (grants.py): the one path by which a member receives a benefit.
- `grant_revoke`, `grant_ship`, `grant_deliver`, `grant_address_read` (fulfilment.py):
  after a grant.
- `quota_*`, `budget_*` (quotas.py): the counters, one conditional statement each.
- `benefit_errors` (catalog_rules.py): the catalog's rules, one place for every writer.
- `tier_matrix`, `tier_matrix_save` (matrix_edit.py): the matrix as one audited grid.
"""

from .catalog_rules import benefit_errors
from .fulfilment import (
    grant_address_read,
    grant_deliver,
    grant_revoke,
    grant_ship,
    revoke_refusal,
)
from .grants import GrantResult, benefit_get, benefit_grant, grant_account, grant_address
from .matrix_edit import Cell, tier_matrix, tier_matrix_save

__all__ = [
    "Cell",
    "GrantResult",
    "benefit_errors",
    "benefit_get",
    "benefit_grant",
    "grant_account",
    "grant_address",
    "grant_address_read",
    "grant_deliver",
    "grant_revoke",
    "grant_ship",
    "revoke_refusal",
    "tier_matrix",
    "tier_matrix_save",
]
