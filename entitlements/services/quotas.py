"""Quota counters and budgets: one conditional statement each, never read-then-write.

- `quota_take`: an upsert of the member's (benefit, scope, period) counter that adds one
  only while `used < limit`. Concurrent claims of one member wait on the counter row
  and then see the committed count, so "每月可领一次" gives exactly one, and a claim is
  refused only when the quota is really used.
- `budget_charge`: `budget_used + cost ≤ budget` checked and added in one UPDATE.
Both run inside the grant's transaction: a grant that fails later gives them back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import F, Q
from django.utils.translation import gettext as _

from members.models import Member

from ..errors import BudgetExhausted, QuotaExhausted
from ..models import Benefit, QuotaUse
from ..periods import period_start, resets_at

_TAKE = (
    "INSERT INTO entitlements_quotause (member_id, benefit_id, scope, period_start, used)"
    " VALUES (%s, %s, %s, %s, 1)"
    " ON CONFLICT (member_id, benefit_id, scope, period_start)"
    " DO UPDATE SET used = entitlements_quotause.used + 1"
    " WHERE entitlements_quotause.used < %s"
    " RETURNING used"
)


def quota_take(
    *, member: Member, benefit: Benefit, scope: str, limit: int, period: str, now: dt.datetime
) -> dt.date:
    """Count one use of the member's quota; returns the period's start. Raises
    QuotaExhausted (with `resets_at`) when `limit` uses are already counted."""
    start = period_start(period, now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_TAKE, [member.pk, benefit.pk, scope, start, limit])
            taken = cursor.fetchone() is not None
    else:  # the embedded default: the grant holds the member's row lock already
        row, _created = QuotaUse.objects.get_or_create(
            member=member, benefit=benefit, scope=scope, period_start=start
        )
        taken = QuotaUse.objects.filter(pk=row.pk, used__lt=limit).update(used=F("used") + 1) == 1
    if not taken:
        reset = resets_at(period, now)
        raise QuotaExhausted(
            _("Used %(limit)d of %(limit)d for this period.") % {"limit": limit},
            resets_at=reset.isoformat() if reset else None,
        )
    return start


def quota_give_back(*, member_id: int, benefit_id: int, scope: str, start: dt.date) -> None:
    QuotaUse.objects.filter(
        member_id=member_id, benefit_id=benefit_id, scope=scope, period_start=start, used__gt=0
    ).update(used=F("used") - 1)


def quota_used(
    *, member: Member, benefit: Benefit, scope: str, period: str, now: dt.datetime
) -> int:
    start = period_start(period, now)
    row = QuotaUse.objects.filter(
        member=member, benefit=benefit, scope=scope, period_start=start
    ).first()
    return row.used if row else 0


def budget_charge(*, benefit: Benefit, cost: Decimal) -> None:
    """Add `cost` to the benefit's used budget if it stays within the budget."""
    if benefit.budget is None or not cost:
        return
    charged = (
        Benefit.objects.filter(pk=benefit.pk)
        .filter(Q(budget__isnull=True) | Q(budget_used__lte=F("budget") - cost))
        .update(budget_used=F("budget_used") + cost)
    )
    if not charged:
        raise BudgetExhausted(_("The budget of %(code)s is used up.") % {"code": benefit.code})


def budget_give_back(*, benefit_id: int, cost: Decimal) -> None:
    if cost:
        Benefit.objects.filter(pk=benefit_id, budget_used__gte=cost).update(
            budget_used=F("budget_used") - cost
        )


def units_take(*, benefit: Benefit, quantity: int) -> bool:
    """Take from a sourceless benefit's own units (`units_left`; None = no limit)."""
    if benefit.units_left is None:
        return True
    return bool(
        Benefit.objects.filter(pk=benefit.pk, units_left__gte=quantity).update(
            units_left=F("units_left") - quantity
        )
    )
