"""`on_upgrade` tier benefits: granted when a member reaches a tier.

The members app announces its upgrades after commit (`members.hooks`, registered in
`EntitlementsConfig.ready()`); the callback enqueues `upgrade_grants_task`, which calls
`upgrade_grants`: every `on_upgrade` row of the tier reached is granted once per upgrade
— the dedupe key `upgrade:<tier change id>:<matrix row id>` makes a second run (a
retried task, the safety net below, two racing workers) find the first grant and grant
nothing. The grant is for the tier the upgrade reached, even when the member has moved
on by the time it runs (two upgrades in a row). The row's quota still applies: a
lifetime quota of one gives one welcome pack per member, however often the member
comes back to the tier.

`upgrade_grants_missing` is the safety net (beat, hourly, and `manage.py
benefits_upgrade_grant`): upgrades of the last days whose `on_upgrade` grants are
missing — a lost task, a worker down — are granted, under the same keys. A row added to
the matrix reaches the members who reached its tier within those days too.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from members.hooks import UPGRADE_REASONS, is_tier_upgrade
from members.models import TierChange

from ..models import Grant, TierBenefit
from .automatic import RunReport, failed_attempts, grant_tier_row

OCCASION = "on_upgrade"


def upgrade_key(change_id: int, row_id: int) -> str:
    return f"upgrade:{change_id}:{row_id}"


def _rows_by_tier(tier_ids: set[int]) -> dict[int, list[TierBenefit]]:
    rows: dict[int, list[TierBenefit]] = {}
    for row in (
        TierBenefit.objects.filter(tier_id__in=tier_ids, mode=TierBenefit.Mode.ON_UPGRADE)
        .select_related("tier", "benefit")
        .order_by("benefit__priority", "benefit__code")
    ):
        rows.setdefault(row.tier_id, []).append(row)
    return rows


def upgrade_grants(*, change_ids: list[int], now: dt.datetime | None = None) -> RunReport:
    """Grant the `on_upgrade` rows of the tiers these tier changes reached (changes that
    are not upgrades are ignored). One short transaction per grant; re-runnable."""
    now = now or timezone.now()
    report = RunReport()
    changes = list(
        TierChange.objects.filter(pk__in=change_ids)
        .select_related("from_tier", "to_tier")
        .order_by("pk")
    )
    changes = [change for change in changes if is_tier_upgrade(change)]
    rows = _rows_by_tier({change.to_tier_id for change in changes})
    for change in changes:
        for row in rows.get(change.to_tier_id, []):
            grant_tier_row(
                member=change.member_id,
                row=row,
                occasion=OCCASION,
                dedupe_key=upgrade_key(change.pk, row.pk),
                tier=change.to_tier,
                report=report,
                now=now,
            )
    return report


def _missing(row: TierBenefit, since: dt.datetime):
    """Upgrades to the row's tier since `since` without the row's grant, and without a
    failed attempt about the member (see automatic.py) after the upgrade."""
    key = Concat(
        Value("upgrade:"),
        Cast("pk", output_field=CharField()),
        Value(f":{row.pk}"),
        output_field=CharField(),
    )
    tried = failed_attempts(benefit_id=row.benefit_id, occasion=OCCASION).filter(
        member_id=OuterRef("member_id"), created_at__gte=OuterRef("created_at")
    )
    return (
        TierChange.objects.filter(
            to_tier_id=row.tier_id, reason__in=UPGRADE_REASONS, created_at__gte=since
        )
        .filter(Q(from_tier__isnull=True) | Q(to_tier__rank__gt=F("from_tier__rank")))
        .annotate(key=key)
        .filter(~Exists(Grant.objects.filter(dedupe_key=OuterRef("key"))), ~Exists(tried))
    )


def upgrade_grants_missing(
    *, days: int = 7, now: dt.datetime | None = None, dry_run: bool = False, chunk: int = 500
) -> RunReport:
    """The safety net: grant what `upgrade_grants` should have granted for the upgrades
    of the last `days` days. Chunked by tier change; re-runnable (same dedupe keys)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    report = RunReport()
    rows = TierBenefit.objects.filter(mode=TierBenefit.Mode.ON_UPGRADE).select_related(
        "tier", "benefit"
    )
    for row in rows.order_by("tier__rank", "benefit__code"):
        missing = _missing(row, since)
        if dry_run:
            report.would_grant += missing.count()
            continue
        last_pk = 0
        while row.benefit_id not in report.stopped:
            batch = list(
                missing.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "member_id")[:chunk]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            for change_id, member_id in batch:
                grant_tier_row(
                    member=member_id,
                    row=row,
                    occasion=OCCASION,
                    dedupe_key=upgrade_key(change_id, row.pk),
                    tier=row.tier,
                    report=report,
                    now=now,
                )
    return report
