"""Member writes, one module per concern: `profiles` (create, update, delete members,
key rotation of their contacts), `tiers` (tiers follow growth value). Later modules of
the member program (events, points, segments, lifecycle) sit beside them. Reads live in
`members/selectors.py`; the console's tier and tag edits in `members/program.py`.

Callers import from the package: `from members.services import member_upsert`.
"""

from .events import member_event_record
from .lifecycle import lifecycle_recompute
from .points import InsufficientPoints, points_adjust, points_expire, points_spend
from .profiles import UNSET, member_delete, member_upsert, members_reencrypt
from .tiers import member_tier_evaluate, member_tier_set, qualifying_growth, tiers_review

__all__ = [
    "UNSET",
    "lifecycle_recompute",
    "member_delete",
    "member_tier_evaluate",
    "member_tier_set",
    "member_upsert",
    "members_reencrypt",
    "qualifying_growth",
    "tiers_review",
]
__all__ += [
    "InsufficientPoints",
    "member_event_record",
    "points_adjust",
    "points_expire",
    "points_spend",
]
