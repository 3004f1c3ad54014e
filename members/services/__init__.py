"""Member writes, one module per concern: `profiles` (create, update, delete members,
key rotation of their contacts), `tiers` (tiers follow growth value). Later modules of
the member program (events, points, segments, lifecycle) sit beside them. Reads live in
`members/selectors.py`; the console's tier and tag edits in `members/program.py`.

Callers import from the package: `from members.services import member_upsert`.
"""

from .profiles import UNSET, member_delete, member_upsert, members_reencrypt
from .tiers import member_tier_evaluate, qualifying_growth

__all__ = [
    "UNSET",
    "member_delete",
    "member_tier_evaluate",
    "member_upsert",
    "members_reencrypt",
    "qualifying_growth",
]
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

__all__ += [
    "segment_conditions_errors",
    "segment_conditions_queryset",
    "segment_conditions_validate",
    "segment_count",
    "segment_members",
    "segment_sample",
    "segment_save",
    "segment_tag_members",
    "segments_tag_scheduled",
]
