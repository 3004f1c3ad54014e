"""After a grant: moving a physical gift through shipping and delivery, and revoking.

Revoking undoes what the grant took, in one transaction under the grant's row lock:
its coupons are voided (through the vouchers service), its points come back (a plus
entry with the reason), its budget, units and quota are given back, and a pack's
children are revoked with it (all or none). What cannot be taken back refuses the whole
revoke with `not_revocable`: a card secret once delivered (the member has seen it), a
coupon already redeemed, a gift already shipped.

Reading a gift's delivery address in the console is recorded too (`grant_address_read`).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from members.services import points_adjust
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_record
from riskcontrol.core.errors import ValidationFailed
from vouchers.errors import InvalidTransition
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import voucher_void

from ..errors import FulfilmentOutOfOrder, NotRevocable
from ..models import Benefit, Grant
from .grants import grant_address
from .quotas import budget_give_back, quota_give_back


@transaction.atomic
def grant_address_read(*, grant: Grant, actor: Actor) -> str:
    """A physical gift's delivery address, for the operator who ships it. Every reading
    is recorded in the audit log (who, when, from where; never the address itself), as
    a card secret's reveal is on its voucher."""
    address = grant_address(grant)
    audit_record(subject=grant, action="read_address", actor=actor, label=f"#{grant.pk}")
    return address


def _locked(grant: Grant) -> Grant:
    return Grant.objects.select_for_update(of=("self",)).select_related("benefit").get(pk=grant.pk)


@transaction.atomic
def grant_ship(*, grant: Grant, tracking_number: str, actor: Actor) -> Grant:
    tracking_number = (tracking_number or "").strip()
    if not tracking_number:
        raise ValidationFailed({"tracking_number": [_("Enter the parcel's tracking number.")]})
    if len(tracking_number) > 64:
        raise ValidationFailed(
            {"tracking_number": [_("Keep the tracking number under 64 characters.")]}
        )
    locked = _locked(grant)
    if locked.status != Grant.Status.PENDING or locked.fulfilment != Grant.Fulfilment.WAITING:
        raise FulfilmentOutOfOrder(
            _("Only a gift waiting to ship can be marked shipped; this one is %(status)s.")
            % {"status": locked.get_fulfilment_display() or locked.get_status_display()}
        )
    locked.fulfilment = Grant.Fulfilment.SHIPPED
    locked.tracking_number = tracking_number
    locked.shipped_at = timezone.now()
    locked.context = {**locked.context, "shipped_by": actor.label}
    locked.save(update_fields=["fulfilment", "tracking_number", "shipped_at", "context"])
    return locked


@transaction.atomic
def grant_deliver(*, grant: Grant, actor: Actor) -> Grant:
    locked = _locked(grant)
    if locked.fulfilment != Grant.Fulfilment.SHIPPED:
        raise FulfilmentOutOfOrder(_("Only a shipped gift can be marked delivered."))
    now = timezone.now()
    locked.fulfilment = Grant.Fulfilment.DELIVERED
    locked.delivered_at = now
    locked.status = Grant.Status.FULFILLED
    locked.fulfilled_at = now
    locked.context = {**locked.context, "delivered_by": actor.label}
    locked.save(update_fields=["fulfilment", "delivered_at", "status", "fulfilled_at", "context"])
    if locked.parent_id and not locked.parent.children.filter(status=Grant.Status.PENDING).exists():
        Grant.objects.filter(pk=locked.parent_id, status=Grant.Status.PENDING).update(
            status=Grant.Status.FULFILLED, fulfilled_at=now
        )
    return locked


def revoke_refusal(grant: Grant) -> str | None:
    """Why this grant cannot be revoked, in a sentence; None when it can."""
    if grant.status not in (Grant.Status.FULFILLED, Grant.Status.PENDING):
        return _("Only a fulfilled or pending grant can be revoked; this one is %(status)s.") % {
            "status": grant.get_status_display()
        }
    if grant.parent_id:
        return _("Revoke the pack it belongs to instead.")
    for one in [grant, *grant.children.all()]:
        if one.fulfilment in (Grant.Fulfilment.SHIPPED, Grant.Fulfilment.DELIVERED):
            return _("The gift has already been shipped.")
        for voucher in _vouchers(one):
            if voucher.batch.kind == VoucherBatch.Kind.CARD_SECRET:
                return _("A delivered card secret cannot be revoked: the member has seen it.")
            if voucher.status == Voucher.Status.REDEEMED:
                return _("Voucher %(serial)s has already been redeemed.") % {
                    "serial": voucher.serial
                }
    return None


def _vouchers(grant: Grant):
    ids = grant.grant_vouchers.values_list("voucher_id", flat=True)
    return Voucher.objects.filter(pk__in=list(ids)).select_related("batch")


@transaction.atomic
def grant_revoke(
    *, grant: Grant, reason: str, actor: Actor, now: dt.datetime | None = None
) -> Grant:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [_("Say why the grant is revoked.")]})
    now = now or timezone.now()
    locked = _locked(grant)
    refusal = revoke_refusal(locked)
    if refusal:
        raise NotRevocable(refusal)
    for one in [*locked.children.select_related("benefit"), locked]:
        for voucher in _vouchers(one):
            if voucher.status in (Voucher.Status.VOID, Voucher.Status.EXPIRED):
                continue
            try:
                voucher_void(voucher=voucher, actor=actor, reason=reason)
            except InvalidTransition as error:
                raise NotRevocable(error.detail) from error
        budget_give_back(benefit_id=_charged_benefit(one), cost=one.cost)
        if one.benefit.units_left is not None and one.benefit.uses_own_units():
            Benefit.objects.filter(pk=one.benefit_id).update(
                units_left=F("units_left") + one.quantity
            )
        one.status = Grant.Status.REVOKED
        one.revoked_at = now
        one.revoke_reason = reason[:200]
        one.save(update_fields=["status", "revoked_at", "revoke_reason"])
    if locked.quota_scope and locked.quota_period_start:
        quota_give_back(
            member_id=locked.member_id,
            benefit_id=locked.substituted_from_id or locked.benefit_id,
            scope=locked.quota_scope,
            start=locked.quota_period_start,
        )
    if locked.points_spent:
        points_adjust(
            member=locked.member_id,
            amount=locked.points_spent,
            reason=_("Revoked grant of %(name)s: %(reason)s")
            % {"name": locked.benefit.name, "reason": reason},
            actor=actor,
            now=now,
        )
    return locked


def _charged_benefit(grant: Grant) -> int:
    """The budget a grant was charged to: the benefit asked for."""
    return grant.substituted_from_id or grant.benefit_id
