"""What the automatic tier grants (`on_upgrade` in upgrades.py, `each_period` in
periodic.py) share: one grant through `benefit_grant` with its dedupe key, the run's
report, and the rule for refusals.

A refusal is recorded by `benefit_grant` as a failed grant (it carries no dedupe key,
so the same key may be tried again). Refusals split in two:
- about the member (`not_eligible`, `quota_exhausted`, `region_unavailable`,
  `insufficient_points`): trying again changes nothing, so a later run skips a member
  with such a failed attempt (`failed_attempts`);
- about the benefit (`out_of_stock`, `budget_exhausted`, `benefit_inactive`): every
  other member would be refused too, so the run stops granting that benefit for now
  (one failed grant, not one per member) and the next run tries again — stock may
  have come back.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from members.models import Member, Tier
from members.services import InsufficientPoints
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed

from ..errors import BenefitInactive, BudgetExhausted, GrantRefused, OutOfStock
from ..models import Benefit, Grant, PackItem, TierBenefit
from .grants import benefit_grant

MEMBER_REFUSALS = ("not_eligible", "quota_exhausted", "region_unavailable", "insufficient_points")
BENEFIT_REFUSALS = (OutOfStock, BudgetExhausted, BenefitInactive)

# Kinds a grant without a member's input cannot fulfil (they need an address or an
# account): the program file refuses them in automatic modes, and a run skips them.
NEEDS_INPUT = ("physical", "direct_topup")


def benefits_needing_input(benefit_ids) -> set[int]:
    """Of these benefits, those an automatic grant cannot fulfil: a gift or a top-up, or
    a pack holding one (two queries)."""
    ids = set(benefit_ids)
    needing = set(
        Benefit.objects.filter(pk__in=ids, kind__in=NEEDS_INPUT).values_list("pk", flat=True)
    )
    needing |= set(
        PackItem.objects.filter(pack_id__in=ids, item__kind__in=NEEDS_INPUT).values_list(
            "pack_id", flat=True
        )
    )
    return needing


def automatic_actor() -> Actor:
    return Actor.system("system")


@dataclass
class RunReport:
    """What a run did (or, dry, would do)."""

    granted: int = 0  # new grants, fulfilled or pending
    existing: int = 0  # found under their dedupe key: granted before
    failed: Counter = field(default_factory=Counter)  # failure code -> grants
    would_grant: int = 0  # dry run: grants the run would attempt
    notes: list[str] = field(default_factory=list)  # rows stopped or skipped, and why
    stopped: set[int] = field(default_factory=set)  # benefit ids refused for everyone

    def summary(self) -> str:
        failed = ", ".join(f"{code} {n}" for code, n in sorted(self.failed.items())) or "0"
        return _("granted %(granted)d, already granted %(existing)d, failed %(failed)s") % {
            "granted": self.granted,
            "existing": self.existing,
            "failed": failed,
        }


def grant_tier_row(
    *,
    member: Member | int,
    row: TierBenefit,
    occasion: str,
    dedupe_key: str,
    report: RunReport,
    now: dt.datetime,
    tier: Tier | None = None,
) -> None:
    """One automatic grant of a matrix row's benefit, counted in `report`. Never raises
    a refusal: it is recorded (a failed grant) and counted."""
    if row.benefit_id in report.stopped:
        return
    try:
        result = benefit_grant(
            member=member,  # a Member or its primary key (member_lock takes both)
            benefit=row.benefit,
            via=Grant.Via.TIER,
            occasion=occasion,
            dedupe_key=dedupe_key,
            tier=tier,
            actor=automatic_actor(),
            now=now,
        )
    except (GrantRefused, InsufficientPoints) as error:
        report.failed[error.code] += 1
        if isinstance(error, BENEFIT_REFUSALS):
            report.stopped.add(row.benefit_id)
            report.notes.append(
                _("%(tier)s · %(benefit)s: stopped for this run (%(code)s: %(detail)s)")
                % {
                    "tier": row.tier.code,
                    "benefit": row.benefit.code,
                    "code": error.code,
                    "detail": error.detail,
                }
            )
        return
    except NotFound:  # deleted since the run chose it
        return
    except ValidationFailed:
        report.stopped.add(row.benefit_id)
        report.notes.append(
            _("%(tier)s · %(benefit)s: skipped, it needs the member's address or account")
            % {"tier": row.tier.code, "benefit": row.benefit.code}
        )
        return
    if result.created:
        report.granted += 1
    else:
        report.existing += 1


def failed_attempts(*, benefit_id: int, occasion: str) -> QuerySet[Grant]:
    """Failed automatic grants of a benefit refused for a reason about the member."""
    return Grant.objects.filter(
        benefit_id=benefit_id,
        occasion=occasion,
        via=Grant.Via.TIER,
        status=Grant.Status.FAILED,
        failure__in=MEMBER_REFUSALS,
        parent__isnull=True,
    )
