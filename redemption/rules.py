"""Batch redemption rules: where, when, from what order amount; whether a voucher can be
redeemed now, as the error to raise (the rule itself is `vouchers.rules`); and what a
voucher is worth on an order (`discount_amount`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.errors import ValidationFailed
from vouchers.errors import VoucherExpired, VoucherFrozen, VoucherVoid
from vouchers.models import Voucher, VoucherBatch
from vouchers.rules import Refusal, voucher_face_value, voucher_redeem_refusal

from .errors import (
    AlreadyRedeemed,
    BelowMinimumOrder,
    NotClaimed,
    NotRedeemableHere,
    OutsideRedemptionWindow,
)
from .models import BatchRedemptionRule, Redemption, Store

CENT = Decimal("0.01")
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW_RE = re.compile(
    r"^(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class WindowSyntaxError(ValueError):
    pass


def _parse_days(text: str) -> list[int]:
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, _sep, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise WindowSyntaxError(part)
            start, end = DAYS.index(first), DAYS.index(last)
            days.update(
                range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
            )
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            raise WindowSyntaxError(part)
    return sorted(days)


def _parse_time(text: str) -> str:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise WindowSyntaxError(text)
    return f"{hours:02d}:{minutes:02d}"


def parse_windows(text: str) -> list[dict]:
    """ "Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00" -> [{"days": [0..4], "start": ..}, ..]"""
    windows = []
    for chunk in re.split(r"[;\n]+", text.strip().lower()):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = _WINDOW_RE.match(chunk)
        if not match:
            raise WindowSyntaxError(chunk)
        start, end = _parse_time(match["start"]), _parse_time(match["end"])
        if start >= end:
            raise WindowSyntaxError(chunk)
        windows.append({"days": _parse_days(match["days"]), "start": start, "end": end})
    return windows


def format_windows(windows: list[dict]) -> str:
    parts = []
    for window in windows:
        days = ",".join(DAYS[d].capitalize() for d in window["days"])
        parts.append(f"{days} {window['start']}-{window['end']}")
    return "; ".join(parts)


def _in_windows(windows: list[dict], at: dt.datetime) -> bool:
    local = timezone.localtime(at)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    return any(
        local.weekday() in window["days"] and window["start"] <= clock < window["end"]
        for window in windows
    )


def minimum_order(batch: VoucherBatch, rule: BatchRedemptionRule | None) -> Decimal | None:
    minimums = [
        m for m in (batch.min_order_amount, rule and rule.min_order_amount) if m is not None
    ]
    return max(minimums) if minimums else None


def _store_allowed(rule: BatchRedemptionRule, store: Store) -> bool:
    scope = BatchRedemptionRule.StoreScope
    if rule.store_scope == scope.LISTED:
        return rule.stores.filter(pk=store.pk).exists()
    if rule.store_scope == scope.GROUPS:
        return store.group in rule.store_groups
    return True


def check_rules(
    *,
    batch: VoucherBatch,
    rule: BatchRedemptionRule | None,
    store: Store,
    at: dt.datetime,
    order_amount: Decimal | None,
) -> None:
    """Raise the first rule the redemption breaks: store, time window, minimum order."""
    if rule is not None and not _store_allowed(rule, store):
        raise NotRedeemableHere(
            _("This voucher cannot be redeemed at %(store)s.") % {"store": store.name}
        )
    if rule is not None and rule.windows and not _in_windows(rule.windows, at):
        raise OutsideRedemptionWindow(
            _("Redeemable only %(windows)s.") % {"windows": format_windows(rule.windows)}
        )
    minimum = minimum_order(batch, rule)
    if minimum is not None and (order_amount is None or order_amount < minimum):
        raise BelowMinimumOrder(
            _("This voucher needs an order of at least %(minimum)s %(currency)s.")
            % {"minimum": minimum, "currency": batch.currency},
            minimum_order_amount=f"{minimum:.2f}",
        )


def discount_for(*, batch: VoucherBatch, voucher: Voucher, order_amount: Decimal | None) -> Decimal:
    """What the voucher takes off this order (never more than the order itself)."""
    face = voucher_face_value(voucher, batch)
    value_type = batch.value_type
    if value_type == VoucherBatch.ValueType.PERCENT:
        if order_amount is None:
            raise ValidationFailed(
                {"order_amount": [_("A percent voucher needs the order amount.")]}
            )
        discount = (order_amount * batch.percent_off / Decimal(100)).quantize(CENT, ROUND_HALF_UP)
        if batch.max_discount is not None:
            discount = min(discount, batch.max_discount)
    else:  # cash, threshold, gift: the face value
        discount = face
    if order_amount is not None and value_type != VoucherBatch.ValueType.GIFT:
        discount = min(discount, order_amount)
    return discount.quantize(CENT)


def _already_redeemed(voucher: Voucher) -> AlreadyRedeemed:
    previous = (
        Redemption.objects.select_related("store")
        .filter(voucher=voucher, status=Redemption.Status.COMPLETED)
        .first()
    )
    redeemed_at = previous.redeemed_at if previous else voucher.redeemed_at
    store = previous.store if previous else None
    detail = (
        _("Already redeemed on %(when)s at %(store)s.")
        % {
            "when": timezone.localtime(redeemed_at).strftime("%Y-%m-%d %H:%M"),
            "store": f"{store.name} ({store.code})",
        }
        if redeemed_at and store
        else None
    )
    return AlreadyRedeemed(
        detail,
        redeemed_at=redeemed_at.isoformat() if redeemed_at else None,
        store=store.code if store else None,
        store_name=store.name if store else None,
    )


def check_voucher_redeemable(voucher: Voucher, batch: VoucherBatch, now: dt.datetime) -> None:
    """Raise the error for why the voucher cannot be redeemed now (the rule is
    `vouchers.rules.voucher_redeem_refusal`); return when it can."""
    refusal = voucher_redeem_refusal(voucher, batch=batch, at=now)
    if refusal is None:
        return
    if refusal == Refusal.REDEEMED:
        raise _already_redeemed(voucher)
    if refusal == Refusal.FROZEN:
        raise VoucherFrozen()
    if refusal == Refusal.VOID:
        raise VoucherVoid()
    if refusal == Refusal.EXPIRED:
        raise VoucherExpired(
            _("Expired on %(when)s.")
            % {"when": timezone.localtime(voucher.expires_at).strftime("%Y-%m-%d %H:%M")}
            if voucher.expires_at
            else None
        )
    if refusal == Refusal.BATCH_ENDED:
        raise VoucherExpired()
    if refusal == Refusal.NOT_YET_VALID:
        raise NotClaimed(_("This voucher is not valid yet."))
    raise NotClaimed()
