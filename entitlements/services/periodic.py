"""`each_period` tier benefits: granted to every member of the tier once per period
(day, week, month, quarter, year in the platform's time zone; lifetime: once).

`period_grants` runs from beat every night just after midnight (every period starts at
a midnight) and as `manage.py benefits_period_grant [--dry-run]`. For each
`each_period` row it selects, in one anti-join query per chunk, the members of the tier
that lack this period's grant, and grants each through `benefit_grant` (one short
transaction each, under the member's row lock). The dedupe key
`period:<row id>:<member id>:<period start>` (a quota of N adds `#2` … `#N`) makes it
re-runnable: a second run, or two racing runs, grant nothing twice. A member who
reaches the tier during a period gets that period's grant at the next run; a member
refused for a reason about the member (quota already used through another route,
region) is not tried again in the period, and a benefit refused for everyone (out of
stock, budget) stops for the run and is tried again at the next one (automatic.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat, Mod
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Grant, TierBenefit
from ..periods import period_start
from .automatic import NEEDS_INPUT, RunReport, failed_attempts, grant_tier_row

OCCASION = "each_period"


def period_key(row_id: int, member_id: int, start: dt.date, unit: int = 1) -> str:
    key = f"period:{row_id}:{member_id}:{start.isoformat()}"
    return key if unit == 1 else f"{key}#{unit}"


@dataclass
class PeriodRow:
    """One matrix row's part of a run."""

    row: TierBenefit
    start: dt.date
    report: RunReport = field(default_factory=RunReport)


def _lacking(row: TierBenefit, start: dt.date):
    """Members of the row's tier without this period's (last) grant of the row: one
    anti-join on the grants' dedupe key, served by its unique index."""
    suffix = f":{start.isoformat()}" + (f"#{row.quota}" if row.quota > 1 else "")
    key = Concat(
        Value(f"period:{row.pk}:"),
        Cast("pk", output_field=CharField()),
        Value(suffix),
        output_field=CharField(),
    )
    begins = timezone.make_aware(
        dt.datetime.combine(start, dt.time.min), timezone.get_current_timezone()
    )
    tried = failed_attempts(benefit_id=row.benefit_id, occasion=OCCASION).filter(
        member_id=OuterRef("pk"), created_at__gte=begins
    )
    members = Member.objects.filter(tier_id=row.tier_id)
    if row.benefit.region:  # the others would be refused: not offered in their region
        members = members.filter(region=row.benefit.region)
    return members.annotate(period_key=key).filter(
        ~Exists(Grant.objects.filter(dedupe_key=OuterRef("period_key"))), ~Exists(tried)
    )


def period_grants(
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    chunk: int = 1000,
    rows: list[TierBenefit] | None = None,
    progress: Callable[[PeriodRow], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[PeriodRow]:
    """Grant every `each_period` row (or `rows`) for the period containing `now` to the
    members of its tier that lack it; `dry_run` counts them instead. Returns one
    `PeriodRow` per matrix row; `progress` is called after every chunk. `shard=(i, n)`
    takes only the members whose id is i modulo n, so n workers share a run without
    meeting on a member."""
    now = now or timezone.now()
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index} of {count}")
    if rows is None:
        rows = list(
            TierBenefit.objects.filter(mode=TierBenefit.Mode.EACH_PERIOD)
            .select_related("tier", "benefit")
            .order_by("tier__rank", "benefit__priority", "benefit__code")
        )
    done: list[PeriodRow] = []
    for row in rows:
        part = PeriodRow(row=row, start=period_start(row.period, now))
        done.append(part)
        skipped = _skipped(row, now)
        if skipped:
            part.report.notes.append(skipped)
            continue
        lacking = _lacking(row, part.start)
        if count > 1:
            lacking = lacking.alias(shard=Mod("pk", count)).filter(shard=index)
        if dry_run:
            part.report.would_grant = lacking.count()
            continue
        last_pk = 0
        while row.benefit_id not in part.report.stopped:
            ids = list(
                lacking.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                break
            last_pk = ids[-1]
            for member_id in ids:
                for unit in range(1, row.quota + 1):
                    grant_tier_row(
                        member=member_id,
                        row=row,
                        occasion=OCCASION,
                        dedupe_key=period_key(row.pk, member_id, part.start, unit),
                        report=part.report,
                        now=now,
                    )
            if progress is not None:
                progress(part)
    return done


def _skipped(row: TierBenefit, now: dt.datetime) -> str:
    """Why a row grants nothing now ("" when it grants)."""
    if row.benefit.kind in NEEDS_INPUT:
        return _("needs the member's address or account: it can only be claimable")
    if not row.benefit.is_active_at(now):
        return _("the benefit is not active now")
    return ""
