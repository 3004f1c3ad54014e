"""The member program's tables, one module per concern: `core` (members, tiers, tags),
`events` (what partner systems tell us members did), `points` (earning rules and the
points ledger), `growth` (growth value, the tier policy and tier changes) and
`segments` (saved member conditions). Rules that move these rows live in
`members/services/`; this package holds only the tables and their constraints."""

from .core import Member, Tag, Tier
from .events import MemberEvent
from .growth import GrowthEntry, TierChange, TierPolicy
from .points import EarningRule, PointsDaily, PointsEntry
from .segments import Segment

__all__ = [
    "EarningRule",
    "GrowthEntry",
    "Member",
    "MemberEvent",
    "PointsDaily",
    "PointsEntry",
    "Segment",
    "Tag",
    "Tier",
    "TierChange",
    "TierPolicy",
]
