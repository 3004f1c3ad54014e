"""The tier ladder's rule, in one place: ranks are unique, the lowest tier's threshold is
0, thresholds rise with rank, and a tier's retention is never above its threshold.

`ladder_breaks` finds what breaks the rule in a whole ladder; the console's tier form
(`program.tier_threshold_errors`), the tier services (`tier_create`/`tier_update`, under
the ladder lock) and the program file (`programfile.TiersSection`) each word the breaks
for their reader, but none decides them itself."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    code: str
    rank: int
    threshold: int


@dataclass(frozen=True)
class Break:
    kind: str  # "rank_taken" | "lowest_not_zero" | "not_rising"
    code: str  # the tier the break is reported on
    other: Step | None = None  # the tier holding the rank, or the lower tier


def ladder_breaks(steps: Iterable[Step]) -> list[Break]:
    """Everything wrong with a ladder. `rank_taken` is reported on the later of two
    tiers with one rank (in the order given); `not_rising` on the higher tier of a pair
    whose thresholds do not rise, naming the lower one."""
    steps = list(steps)
    breaks: list[Break] = []
    holders: dict[int, Step] = {}
    for step in steps:
        holder = holders.get(step.rank)
        if holder is not None:
            breaks.append(Break("rank_taken", step.code, holder))
        holders[step.rank] = step
    ladder = sorted(steps, key=lambda step: step.rank)
    if ladder and ladder[0].threshold != 0:
        breaks.append(Break("lowest_not_zero", ladder[0].code))
    for low, high in itertools.pairwise(ladder):
        if high.threshold <= low.threshold:
            breaks.append(Break("not_rising", high.code, low))
    return breaks


def retention_too_high(threshold: int, retention: int | None) -> bool:
    return retention is not None and retention > threshold
