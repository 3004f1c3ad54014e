"""Member events: what partner systems (or the console) tell us a member did.

`member_event_record` is idempotent by (partner client, `event_id`): a repeat returns
the first event, with the effects it had, and changes nothing — also when repeats race
(the member's row lock serialises events of one member; the unique constraints catch the
rest: the transaction rolls back and the first event answers). The event, its earning
rules, a refund's take-back, the growth entries and the tier evaluation all run in one
transaction under the member's row lock; `effects = {points, growth, tier_before,
tier_after}` (a refund adds `points_shortfall`: points it could not take back because
they were already spent).

Validation (400 `validation_error` per field):
- `kind`: one of `MemberEvent.Kind` or `custom.<name>` (lower-case letters, digits,
  `_`, `-`, up to 50);
- `purchase`: `amount` > 0 and `order_ref` required, one purchase per order and member;
- `refund`: `order_ref` of a purchase of the same member; `amount` > 0 and at most what
  remains refundable of it (absent: all that remains);
- `invite_accepted`: `payload.invitee` (the invited member's external id);
- `cart_abandoned`: `payload.items`, when given, is a list;
- `occurred_at` (default now) may not lie more than 5 minutes in the future.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from ..models import GrowthEntry, Member, MemberEvent
from .earning import Earned, earned_write, rules_apply
from .event_rows import event_rows_write, member_lock_with_rules
from .points import member_lock, points_take_back
from .tiers import member_tier_evaluate

CUSTOM_KIND = re.compile(r"^custom\.[a-z0-9][a-z0-9_-]{0,49}$")
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
MAX_AMOUNT = Decimal("9999999999.99")


def event_kind_valid(kind: str) -> bool:
    return kind in MemberEvent.Kind.values or bool(CUSTOM_KIND.match(kind))


def _validate(
    *,
    kind: str,
    amount: Decimal | None,
    order_ref: str,
    payload: dict,
    occurred_at: dt.datetime,
    now: dt.datetime,
) -> None:
    errors: dict[str, list[str]] = {}
    if not event_kind_valid(kind):
        errors["kind"] = [
            _("Unknown event kind. Use one of %(kinds)s, or custom.<name>.")
            % {"kinds": ", ".join(MemberEvent.Kind.values)}
        ]
    if amount is not None and (amount < 0 or amount > MAX_AMOUNT):
        errors["amount"] = [_("Must be zero or more, with at most two decimal places.")]
    if kind in (MemberEvent.Kind.PURCHASE, MemberEvent.Kind.REFUND):
        if not order_ref:
            errors["order_ref"] = [_("Required for a purchase or a refund.")]
        if kind == MemberEvent.Kind.PURCHASE and (amount is None or amount <= 0):
            errors["amount"] = [_("A purchase needs an amount above zero.")]
        if kind == MemberEvent.Kind.REFUND and amount is not None and amount <= 0:
            errors["amount"] = [_("A refund's amount must be above zero.")]
    if kind == MemberEvent.Kind.INVITE_ACCEPTED:
        invitee = payload.get("invitee")
        if not isinstance(invitee, str) or not invitee.strip():
            errors["payload"] = [_("Needs payload.invitee: the invited member's external id.")]
    if kind == MemberEvent.Kind.CART_ABANDONED and not isinstance(payload.get("items", []), list):
        errors["payload"] = [_("payload.items must be a list.")]
    if occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [_("Lies in the future.")]
    if errors:
        raise ValidationFailed(errors)


def _purchase_for_refund(
    *, member: Member, order_ref: str, amount: Decimal | None
) -> tuple[MemberEvent, Decimal]:
    """The purchase a refund names and the amount refunded (validated)."""
    purchase = MemberEvent.objects.filter(
        member=member, kind=MemberEvent.Kind.PURCHASE, order_ref=order_ref
    ).first()
    if purchase is None:
        raise ValidationFailed(
            {"order_ref": [_("No purchase of this member has this order reference.")]}
        )
    refunded = MemberEvent.objects.filter(
        member=member, kind=MemberEvent.Kind.REFUND, order_ref=order_ref
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    refundable = (purchase.amount or Decimal("0")) - refunded
    if refundable <= 0:
        raise ValidationFailed({"order_ref": [_("This purchase has been refunded in full.")]})
    if amount is None:
        amount = refundable
    if amount > refundable:
        raise ValidationFailed(
            {
                "amount": [
                    _("More than what remains refundable of this purchase (%(refundable)s).")
                    % {"refundable": f"{refundable:.2f}"}
                ]
            }
        )
    return purchase, amount


def _first_event(*, actor: Actor, event_id: str) -> MemberEvent | None:
    return (
        MemberEvent.objects.select_related("member")
        .filter(partner_client_id=actor.partner_client_id, event_id=event_id)
        .first()
    )


def member_event_record(
    *,
    event_id: str,
    kind: str,
    actor: Actor,
    member: Member | None = None,
    member_external_id: str | None = None,
    occurred_at: dt.datetime | None = None,
    amount: Decimal | None = None,
    order_ref: str = "",
    payload: dict | None = None,
    context: dict | None = None,
    now: dt.datetime | None = None,
) -> tuple[MemberEvent, bool]:
    """Record an event of a member and apply what it earns. Returns (event, created);
    a repeat of (partner client, `event_id`) returns the first event, `created=False`.
    Raises NotFound (unknown member) or ValidationFailed."""
    now = now or timezone.now()
    occurred_at = occurred_at or now
    payload = payload or {}
    order_ref = order_ref or ""
    if member is None and member_external_id is None:
        raise ValueError("member or member_external_id is required")
    try:
        with transaction.atomic():
            rules = None
            if connection.vendor == "postgresql":
                locked, rules = member_lock_with_rules(
                    member if member is not None else member_external_id, kind
                )
            else:
                locked = member_lock(member if member is not None else member_external_id)
            # No look-up of the event id on the way in: a repeat fails on the unique
            # constraint at the INSERT below (handled after the rollback), or, when its
            # body no longer validates (a refund repeated after the full refund), here.
            purchase = None
            try:
                _validate(
                    kind=kind,
                    amount=amount,
                    order_ref=order_ref,
                    payload=payload,
                    occurred_at=occurred_at,
                    now=now,
                )
                if kind == MemberEvent.Kind.REFUND:
                    purchase, amount = _purchase_for_refund(
                        member=locked, order_ref=order_ref, amount=amount
                    )
            except ValidationFailed:
                existing = _first_event(actor=actor, event_id=event_id)
                if existing is not None:
                    return existing, False
                raise
            extra: dict[str, Any] = {"end_user": context} if context else {}
            tier_before = locked.tier.code if locked.tier_id else None
            in_one_statement = purchase is None and connection.vendor == "postgresql"
            earned = rules_apply(
                member=locked,
                kind=kind,
                amount=amount,
                occurred_at=occurred_at,
                ref=order_ref or event_id,
                actor=actor,
                rules=rules,
                caps_in_statement=in_one_statement,
            )
            # Inserted with the rules' effects; updated only when a take-back or a tier
            # change adds to them.
            effects = {
                "points": earned.points,
                "growth": earned.growth,
                "tier_before": tier_before,
                "tier_after": tier_before,
            }
            event = MemberEvent(
                member=locked,
                event_id=event_id,
                kind=kind,
                occurred_at=occurred_at,
                amount=amount,
                order_ref=order_ref,
                payload=payload,
                effects=effects,
                **MemberEvent.actor_stamp(actor, extra=extra),
            )
            if in_one_statement:
                final = _write_in_one_statement(
                    member=locked, event=event, earned=earned, actor=actor, now=now
                )
            else:
                event.save(force_insert=True)
                earned_write(earned, event=event)
                final = _apply(
                    member=locked,
                    event=event,
                    earned=earned,
                    purchase=purchase,
                    actor=actor,
                    now=now,
                )
            if final != effects:
                event.effects = final
                event.save(update_fields=["effects"])
    except IntegrityError:
        # The unique constraints, for what the member lock does not serialise: the same
        # event id from this client for another member, or a second purchase of an order.
        existing = _first_event(actor=actor, event_id=event_id)
        if existing is not None:
            return existing, False
        if kind == MemberEvent.Kind.PURCHASE and _purchase_exists(
            member=member, member_external_id=member_external_id, order_ref=order_ref
        ):
            raise ValidationFailed(
                {"order_ref": [_("A purchase with this order reference is already recorded.")]}
            ) from None
        raise
    return event, True


def _write_in_one_statement(
    *, member: Member, event: MemberEvent, earned: Earned, actor: Actor, now: dt.datetime
) -> dict[str, Any]:
    """What `_apply` does for an event that is not a refund, on PostgreSQL: the rows and
    the member's summary in one statement (`event_rows_write`); the tier evaluation only
    when that statement found a tier above the member's within reach."""
    # The statement sets the event's points (in `event.effects`, this same dict) to what
    # the daily caps left.
    effects = event.effects
    reachable = event_rows_write(event=event, earned=earned, member=member, now=now)
    member.last_event_at = event.occurred_at
    if not reachable:
        return effects
    tier_before, tier_after = member_tier_evaluate(member=member, now=now, actor=actor, event=event)
    return {**effects, "tier_before": tier_before, "tier_after": tier_after}


def _apply(
    *,
    member: Member,
    event: MemberEvent,
    earned: Earned,
    purchase: MemberEvent | None,
    actor: Actor,
    now: dt.datetime,
) -> dict[str, Any]:
    """After the earning rules (`earned`, saved): a refund's take-back and the tier
    evaluation for a new `event` of the locked `member`; writes the member row (points,
    growth, last event) with as few UPDATEs as it can. Returns the effects."""
    tier_before = event.effects["tier_before"]
    points, growth = earned.points, earned.growth
    sums = {"points": F("points") + points, "growth_value": F("growth_value") + growth}
    effects: dict[str, Any] = {}
    if purchase is not None:
        # Take-backs move the row themselves: write what the rules gave first.
        Member.objects.filter(pk=member.pk).update(**sums)
        sums = {}
        taken = points_take_back(
            member=member, purchase=purchase, refund=event, actor=actor, now=now
        )
        if taken is not None:
            points += taken.amount
            effects["points_shortfall"] = taken.shortfall
        growth += _growth_take_back(member=member, purchase=purchase, refund=event, now=now)
    tier_after = tier_before
    if growth > 0:  # tiers move up with growth; a refund's loss waits for the review
        tier_before, tier_after = member_tier_evaluate(
            member=member,
            now=now,
            actor=actor,
            event=event,
            growth_ceiling=member.growth_value + growth,
        )
    Member.objects.filter(pk=member.pk).update(
        **sums, last_event_at=event.occurred_at, updated_at=now
    )
    member.last_event_at = event.occurred_at
    return {
        "points": points,
        "growth": growth,
        "tier_before": tier_before,
        "tier_after": tier_after,
        **effects,
    }


def _purchase_exists(
    *, member: Member | None, member_external_id: str | None, order_ref: str
) -> bool:
    rows = MemberEvent.objects.filter(kind=MemberEvent.Kind.PURCHASE, order_ref=order_ref)
    if member is not None:
        return rows.filter(member_id=member.pk).exists()
    return rows.filter(member__external_id=member_external_id).exists()


def _growth_take_back(
    *, member: Member, purchase: MemberEvent, refund: MemberEvent, now: dt.datetime
) -> int:
    """A refund lowers growth value like points: the purchase's growth in proportion to
    what has been refunded so far, never below zero. Returns the (negative) change."""
    earned = (
        GrowthEntry.objects.filter(member=member, event=purchase).aggregate(total=Sum("amount"))[
            "total"
        ]
        or 0
    )
    if earned <= 0:
        return 0
    refunded = (
        MemberEvent.objects.filter(
            member=member, kind=MemberEvent.Kind.REFUND, order_ref=purchase.order_ref
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    share = earned if refunded >= purchase.amount else int(earned * refunded // purchase.amount)
    before = -(
        GrowthEntry.objects.filter(
            member=member,
            event__kind=MemberEvent.Kind.REFUND,
            event__order_ref=purchase.order_ref,
        )
        .exclude(event=refund)
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    wanted = min(max(share - before, 0), member.growth_value)
    if wanted == 0:
        return 0
    GrowthEntry.objects.create(
        member=member,
        amount=-wanted,
        occurred_at=refund.occurred_at,
        reason=_("refund of order %(order)s") % {"order": purchase.order_ref},
        event=refund,
    )
    Member.objects.filter(pk=member.pk).update(growth_value=F("growth_value") - wanted)
    member.growth_value -= wanted
    return -wanted
