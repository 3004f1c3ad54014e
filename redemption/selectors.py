"""Redemption reads: staff assignments, today's redemptions, and the clerk's "check"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from members.selectors import member_phone_masked
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, NotFound
from riskcontrol.rules.guessing import guess_failure_record, guess_keys, guess_limit_check
from vouchers.models import Voucher

from .models import BatchRedemptionRule, Redemption, Store, StoreStaff
from .presentations import is_token, presentation_voucher_id
from .rules import check_rules, discount_for, format_windows, minimum_order
from .services import check_voucher_redeemable


def staff_assignments(user) -> QuerySet[StoreStaff]:
    return StoreStaff.objects.filter(user=user, store__active=True).select_related("store")


def todays_redemptions(store: Store) -> QuerySet[Redemption]:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Redemption.objects.filter(store=store, redeemed_at__gte=start)
        .select_related("voucher", "batch")
        .order_by("-redeemed_at")
    )


@dataclass
class Preview:
    voucher: Voucher
    member_masked: str
    value_text: str
    minimum: str
    windows: str
    refusal: DomainError | None


def _value_text(voucher: Voucher) -> str:
    batch = voucher.batch
    face = voucher.face_value if voucher.face_value is not None else batch.face_value
    if batch.value_type == batch.ValueType.PERCENT:
        text = f"{100 - batch.percent_off:g}% ({batch.percent_off:g}% off)"
        return text + (f", max {batch.max_discount} {batch.currency}" if batch.max_discount else "")
    return f"{face} {batch.currency}"


def redemption_preview(*, store: Store, actor: Actor, text: str) -> Preview:
    """What the clerk sees on "Check": the voucher and whether it can be redeemed here now.
    An unknown code or bad token counts towards the guessing limit, as when redeeming."""
    keys = guess_keys(user_id=actor.user_id, store_id=store.pk, client_id=actor.partner_client_id)
    guess_limit_check(keys)
    if is_token(text):
        voucher_id = presentation_voucher_id(text)
        voucher = Voucher.objects.filter(pk=voucher_id).first() if voucher_id else None
    else:
        from vouchers.selectors import voucher_find_by_code

        voucher = voucher_find_by_code(text)
    if voucher is None:
        guess_failure_record(keys, actor_label=actor.label)
        raise NotFound()
    voucher = Voucher.objects.select_related("batch", "member").get(pk=voucher.pk)
    rule = BatchRedemptionRule.objects.filter(batch=voucher.batch).first()
    minimum = minimum_order(voucher.batch, rule)
    refusal = None
    try:
        now = timezone.now()
        check_voucher_redeemable(voucher, voucher.batch, now)
        check_rules(batch=voucher.batch, rule=rule, store=store, at=now, order_amount=minimum)
        if voucher.batch.value_type != voucher.batch.ValueType.PERCENT:
            discount_for(batch=voucher.batch, voucher=voucher, order_amount=None)
    except DomainError as error:
        refusal = error
    return Preview(
        voucher=voucher,
        member_masked=(
            member_phone_masked(voucher.member) or voucher.member.external_id[:3] + "***"
        )
        if voucher.member
        else "",
        value_text=_value_text(voucher),
        minimum=f"{minimum} {voucher.batch.currency}" if minimum is not None else "",
        windows=format_windows(rule.windows) if rule and rule.windows else "",
        refusal=refusal,
    )


def expires_text(voucher: Voucher) -> str:
    moment: dt.datetime | None = voucher.expires_at or voucher.batch.valid_until
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
