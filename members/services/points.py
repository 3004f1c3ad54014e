"""The points ledger. `PointsEntry` rows are the truth and `Member.points` their sum,
changed only under the member's row lock (`select_for_update`), with one UPDATE … F().

Earned points are lots (`remaining`, `activates_at`, `expires_at`). A lot is *spendable*
when `activates_at` ≤ now and it has not expired; before `activates_at` it is *pending*
(counted in the balance, not spendable). Spends and negative adjustments take from the
oldest spendable lots first (FIFO by id).

- `points_spend`: 409 `insufficient_points` when the spendable points are fewer than the
  amount (pending points do not count). Idempotent by `ref` per member: a spend whose
  `ref` this member already used returns that first spend and changes nothing
  (whatever the amount asked the second time); without `ref` every call spends.
- `points_take_back` (a refund): takes back what its purchase earned, in proportion to
  the amount refunded (cumulative over partial refunds, rounded down): first from that
  purchase's own lots (pending or not), then from other spendable lots, never below
  zero; what could not be taken back (already spent) is the entry's `shortfall`.
- `points_adjust`: an operator's + or - with a required reason. A plus is a new lot
  (spendable at once; `expires_at` optional). A minus takes from spendable lots first,
  then pending ones; 409 `insufficient_points` beyond the unexpired points.
- `points_expire`: set-based and chunked; one `expire` entry per member and chunk
  (amount = minus the member's expired points in that chunk), not one per lot: the lots
  themselves keep `remaining = 0` and their `expires_at` as the trace. Re-runnable.
"""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, NotFound, ValidationFailed

from ..locks import member_row_lock
from ..models import Member, MemberEvent, PointsEntry

MAX_POINTS = 100_000_000


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 409
    title = gettext_lazy("The member does not have enough spendable points.")


# --- locks and lots --------------------------------------------------------------------


def member_lock(member: Member | str | int) -> Member:
    """Lock and return the member row with its tier (inside the caller's transaction): a
    Member, its primary key or its external id. Raises NotFound."""
    if isinstance(member, Member):
        locked = member_row_lock(key="id", value=member.pk)
    elif isinstance(member, int):
        locked = member_row_lock(key="id", value=member)
    else:
        locked = member_row_lock(key="external_id", value=member)
    if locked is None:
        raise NotFound(_("No member with this external id."))
    return locked


def open_lots(member_id: int, now: dt.datetime) -> QuerySet[PointsEntry]:
    """Lots with points left that have not expired, oldest first."""
    return (
        PointsEntry.objects.filter(member_id=member_id, remaining__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("id")
    )


def spendable_lots(member_id: int, now: dt.datetime) -> QuerySet[PointsEntry]:
    return open_lots(member_id, now).filter(Q(activates_at__isnull=True) | Q(activates_at__lte=now))


def pending_lots(member_id: int, now: dt.datetime) -> QuerySet[PointsEntry]:
    return open_lots(member_id, now).filter(activates_at__gt=now)


def _take(lots: QuerySet[PointsEntry] | list[PointsEntry], wanted: int) -> int:
    """Take up to `wanted` points from `lots` in their order; returns what was taken."""
    taken = 0
    changed = []
    for lot in lots:
        if taken >= wanted:
            break
        part = min(lot.remaining, wanted - taken)
        lot.remaining -= part
        taken += part
        changed.append(lot)
    if changed:
        PointsEntry.objects.bulk_update(changed, ["remaining"])
    return taken


def _entry(
    *,
    member: Member,
    kind: str,
    amount: int,
    actor: Actor,
    now: dt.datetime,
    **fields,
) -> PointsEntry:
    """Write one entry and move `Member.points` by `amount` (the member is locked)."""
    if amount:
        Member.objects.filter(pk=member.pk).update(points=F("points") + amount, updated_at=now)
        member.points += amount
    return PointsEntry.objects.create(
        member=member,
        kind=kind,
        amount=amount,
        balance_after=member.points,
        **fields,
        **PointsEntry.actor_stamp(actor),
    )


def _positive_amount(amount: object, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed({field: [_("Must be a whole number of points above zero.")]})
    if amount > MAX_POINTS:
        raise ValidationFailed({field: [_("Too many points at once.")]})
    return amount


# --- spend -----------------------------------------------------------------------------


def points_spend(
    *,
    member: Member | str,
    amount: int,
    reason: str = "",
    ref: str = "",
    actor: Actor,
    now: dt.datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """Spend `amount` spendable points, oldest lots first. Returns (entry, created):
    a `ref` the member already spent under returns that spend and `created=False`."""
    amount = _positive_amount(amount)
    with transaction.atomic():
        locked = member_lock(member)
        now = now or timezone.now()
        if ref:
            first = (
                PointsEntry.objects.filter(member=locked, kind=PointsEntry.Kind.SPEND, ref=ref)
                .order_by("id")
                .first()
            )
            if first is not None:
                return first, False
        lots = list(spendable_lots(locked.pk, now))
        spendable = sum(lot.remaining for lot in lots)
        if spendable < amount:
            raise InsufficientPoints(
                _("%(spendable)d points can be spent now; %(amount)d were asked for.")
                % {"spendable": spendable, "amount": amount},
                spendable=spendable,
            )
        _take(lots, amount)
        entry = _entry(
            member=locked,
            kind=PointsEntry.Kind.SPEND,
            amount=-amount,
            actor=actor,
            now=now,
            reason=reason[:200],
            ref=ref,
        )
    return entry, True


# --- refunds ---------------------------------------------------------------------------


def points_take_back(
    *,
    member: Member,
    purchase: MemberEvent,
    refund: MemberEvent,
    actor: Actor,
    now: dt.datetime,
) -> PointsEntry | None:
    """Take back the points `purchase` earned, in proportion to what has been refunded
    of it so far (this refund included). The member is locked by the caller. Returns the
    `refund` entry (None when the purchase earned nothing)."""
    earned = (
        PointsEntry.objects.filter(
            member=member, event=purchase, kind=PointsEntry.Kind.EARN
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    if earned <= 0:
        return None
    wanted = _refund_share(member=member, purchase=purchase, total=earned)
    before = PointsEntry.objects.filter(
        member=member, kind=PointsEntry.Kind.REFUND, event__order_ref=purchase.order_ref
    ).exclude(event=refund)
    wanted_before = sum(-entry.amount + entry.shortfall for entry in before)
    wanted = max(wanted - wanted_before, 0)
    if wanted == 0:
        return None
    own = list(open_lots(member.pk, now).filter(event=purchase, kind=PointsEntry.Kind.EARN))
    taken = _take(own, wanted)
    if taken < wanted:
        others = spendable_lots(member.pk, now).exclude(pk__in=[lot.pk for lot in own])
        taken += _take(list(others), wanted - taken)
    return _entry(
        member=member,
        kind=PointsEntry.Kind.REFUND,
        amount=-taken,
        actor=actor,
        now=now,
        reason=_("refund of order %(order)s") % {"order": purchase.order_ref},
        ref=purchase.order_ref,
        event=refund,
        shortfall=wanted - taken,
    )


def _refund_share(*, member: Member, purchase: MemberEvent, total: int) -> int:
    """`total` x (all refunded of the purchase so far ÷ its amount), rounded down; all of
    it once the purchase is refunded in full."""
    refunded = (
        MemberEvent.objects.filter(
            member=member, kind=MemberEvent.Kind.REFUND, order_ref=purchase.order_ref
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    if not purchase.amount or refunded >= purchase.amount:
        return total
    return int(total * refunded // purchase.amount)


# --- operator adjustments --------------------------------------------------------------


def points_adjust(
    *,
    member: Member | str,
    amount: int,
    reason: str,
    actor: Actor,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> PointsEntry:
    """An operator's correction: + adds a lot, - takes points away (spendable lots
    first, then pending ones). `reason` is required."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [_("Say why the points are adjusted.")]})
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValidationFailed({"amount": [_("Must be a whole number of points, not zero.")]})
    _positive_amount(abs(amount))
    with transaction.atomic():
        locked = member_lock(member)
        now = now or timezone.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed({"expires_at": [_("Must lie in the future.")]})
        if amount > 0:
            return _entry(
                member=locked,
                kind=PointsEntry.Kind.ADJUST,
                amount=amount,
                actor=actor,
                now=now,
                reason=reason[:200],
                remaining=amount,
                activates_at=now,
                expires_at=expires_at,
            )
        wanted = -amount
        spendable = list(spendable_lots(locked.pk, now))
        pending = list(pending_lots(locked.pk, now))
        available = sum(lot.remaining for lot in spendable + pending)
        if available < wanted:
            raise InsufficientPoints(
                _("The member has %(available)d points; %(amount)d cannot be taken away.")
                % {"available": available, "amount": wanted},
                spendable=available,
            )
        taken = _take(spendable, wanted)
        _take(pending, wanted - taken)
        return _entry(
            member=locked,
            kind=PointsEntry.Kind.ADJUST,
            amount=amount,
            actor=actor,
            now=now,
            reason=reason[:200],
        )


# --- expiry ----------------------------------------------------------------------------

_EXPIRE_SQL = """
WITH expired AS (
    UPDATE members_pointsentry AS lot
    SET remaining = 0
    FROM members_pointsentry AS old
    WHERE lot.id = old.id
      AND old.member_id = ANY(%(members)s)
      AND old.remaining > 0
      AND old.expires_at <= %(now)s
    RETURNING old.member_id, old.remaining
), per_member AS (
    SELECT member_id, SUM(remaining)::integer AS total FROM expired GROUP BY member_id
), moved AS (
    UPDATE members_member AS m
    SET points = m.points - p.total, updated_at = %(now)s
    FROM per_member AS p
    WHERE m.id = p.member_id
    RETURNING m.id, m.points AS balance_after, p.total
)
INSERT INTO members_pointsentry (
    member_id, kind, amount, balance_after, reason, ref, remaining, shortfall,
    actor_kind, actor_label, context, created_at
)
SELECT id, 'expire', -total, balance_after, %(reason)s, '', 0, 0,
       %(actor_kind)s, %(actor_label)s, %(context)s::jsonb, %(now)s
FROM moved
RETURNING amount
"""


def points_expire(
    *, now: dt.datetime | None = None, chunk: int = 20_000, actor: Actor | None = None
) -> dict[str, int]:
    """Expire every lot whose `expires_at` has passed. Chunked by member id (about
    `chunk` lots each, all lots of a member in one chunk); each chunk is one transaction
    that locks its members in id order, zeroes their expired lots, writes one `expire`
    entry per member and lowers `Member.points` with one UPDATE … FROM an aggregate.
    A second run finds nothing. Returns {"members", "points", "chunks"}."""
    now = now or timezone.now()
    actor = actor or Actor.system("points expiry")
    stamp = PointsEntry.actor_stamp(actor)
    totals = {"members": 0, "points": 0, "chunks": 0}
    after = 0
    while True:
        member_ids = list(
            PointsEntry.objects.filter(remaining__gt=0, expires_at__lte=now, member_id__gt=after)
            .order_by("member_id")
            .values_list("member_id", flat=True)[:chunk]
        )
        if not member_ids:
            return totals
        members = sorted(set(member_ids))
        after = members[-1]
        with transaction.atomic():
            list(
                Member.objects.select_for_update()
                .filter(pk__in=members)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            amounts = _expire_chunk(members=members, now=now, stamp=stamp)
        totals["members"] += len(amounts)
        totals["points"] += -sum(amounts)
        totals["chunks"] += 1


def _expire_chunk(*, members: list[int], now: dt.datetime, stamp: dict) -> list[int]:
    params = {
        "members": members,
        "now": now,
        "reason": str(_("points expired")),
        "actor_kind": stamp["actor_kind"],
        "actor_label": stamp["actor_label"],
        "context": json.dumps(stamp["context"]),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_EXPIRE_SQL, params)
            return [row[0] for row in cursor.fetchall()]
    return _expire_chunk_portable(members=members, now=now, stamp=stamp)


def _expire_chunk_portable(*, members: list[int], now: dt.datetime, stamp: dict) -> list[int]:
    """The same in the ORM, for the embedded SQLite default (small data)."""
    amounts = []
    for member in Member.objects.filter(pk__in=members).order_by("pk"):
        lots = PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=now)
        total = lots.aggregate(total=Sum("remaining"))["total"] or 0
        if not total:
            continue
        lots.update(remaining=0)
        Member.objects.filter(pk=member.pk).update(points=F("points") - total, updated_at=now)
        member.points -= total
        PointsEntry.objects.create(
            member=member,
            kind=PointsEntry.Kind.EXPIRE,
            amount=-total,
            balance_after=member.points,
            reason=str(_("points expired")),
            **stamp,
        )
        amounts.append(-total)
    return amounts
