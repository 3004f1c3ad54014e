"""Member writes, one module per concern:

- `profiles`: create, update and delete members; key rotation of their contacts;
- `events`: what partner systems tell us members did, and what it earned (`earning`);
- `points`: the points ledger (spend, take back on refund, adjust, expire);
- `tiers`: tiers follow growth value (upgrade, hold, review, manual tiers);
- `lifecycle`: lifecycle stages from the recency and frequency of events;
- `segments`: saved member conditions compiled to one query, and tagging by segment.

Reads live in `members/selectors.py`; the console's program edits (tiers, tags, earning
rules, tier policy) in `members/program.py`.

Callers import from the package: `from members.services import member_upsert`.
"""

from .events import member_event_record
from .lifecycle import lifecycle_recompute
from .points import InsufficientPoints, points_adjust, points_expire, points_spend
from .profiles import UNSET, member_delete, member_upsert, members_reencrypt
from .segments import (
    segment_conditions_errors,
    segment_conditions_queryset,
    segment_conditions_validate,
    segment_count,
    segment_members,
    segment_sample,
    segment_save,
    segment_tag_members,
    segments_tag_scheduled,
)
from .tiers import member_tier_evaluate, member_tier_set, qualifying_growth, tiers_review

__all__ = [
    "UNSET",
    "InsufficientPoints",
    "lifecycle_recompute",
    "member_delete",
    "member_event_record",
    "member_tier_evaluate",
    "member_tier_set",
    "member_upsert",
    "members_reencrypt",
    "points_adjust",
    "points_expire",
    "points_spend",
    "qualifying_growth",
    "segment_conditions_errors",
    "segment_conditions_queryset",
    "segment_conditions_validate",
    "segment_count",
    "segment_members",
    "segment_sample",
    "segment_save",
    "segment_tag_members",
    "segments_tag_scheduled",
    "tiers_review",
]
