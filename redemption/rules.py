"""Batch redemption rules: where, when, from what order amount; whether a voucher can be
redeemed now, as the error to raise (the rule itself is `vouchers.rules`); and what a
voucher is worth on an order (`discount_amount`)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

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


# --- Weekly time windows ------------------------------------------------------------------
#
# Stored as [{"days": [0..6 (Monday = 0)], "start": "HH:MM", "end": "HH:MM"}, ...], in the
# platform's time zone, the end exclusive and "24:00" allowed as an end. Operators write
# them in English ("Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00") or in Chinese
# ("周一至周五 10:00-22:00；周六、周日 09:00-18:00"), or hours alone for every day
# ("10:00-22:00"); `format_windows` shows them in the reader's language, and its output
# reads back to the same windows. A window never passes midnight (22:00-02:00 is refused
# with a sentence saying to split it in two), and two windows never overlap on a day.

_EN_DAYS = {
    **{name: index for index, name in enumerate(DAYS)},
    **{
        name: index
        for index, name in enumerate(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        )
    },
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_ZH_NUMERALS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_DAY_RE = re.compile(r"^(?:周|星期|礼拜|禮拜)?(?P<numeral>[一二三四五六日天])$")
_EVERY_DAY = {"每天", "每日", "天天", "全周", "daily", "every day", "everyday"}
_RANGE = r"[-–—~至到]"  # noqa: RUF001 - hyphen, en and em dash, tilde (NFKC folds the full-width one)
_TIME = r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])"
_TIME_RANGE_RE = re.compile(rf"(?P<start>{_TIME})\s*{_RANGE}\s*(?P<end>{_TIME})")
_HOURS_AT_END_RE = re.compile(
    rf"(?P<hours>{_TIME}\s*{_RANGE}\s*{_TIME}(?:\s*[,、]\s*{_TIME}\s*{_RANGE}\s*{_TIME})*)\s*$"
)


def _example() -> str:
    return _("“Mon-Fri 10:00-14:00” or “周一至周五 10:00-22:00”")


class WindowSyntaxError(ValueError):
    """A weekly time window that cannot be read; `str(error)` is one plain sentence in
    the active language saying what is wrong."""


def _parse_day(name: str) -> int:
    key = name.strip().lower()
    if key in _EN_DAYS:
        return _EN_DAYS[key]
    match = _ZH_DAY_RE.match(key)
    if match:
        return _ZH_NUMERALS[match["numeral"]]
    raise WindowSyntaxError(
        _("“%(day)s” is not a day of the week: write days like %(example)s.")
        % {"day": name.strip(), "example": _example()}
    )


def _parse_days(text: str) -> list[int]:
    text = text.strip()
    if not text or text.lower() in _EVERY_DAY:
        return list(range(7))
    text = re.sub(rf"\s*({_RANGE})\s*", r"\1", text)
    days: set[int] = set()
    for part in re.split(r"[,、\s]+", text):
        if not part:
            continue  # "周一,,周三" or a trailing comma: nothing to read there
        pieces = re.split(_RANGE, part, maxsplit=1)
        if len(pieces) == 2:
            first, last = _parse_day(pieces[0]), _parse_day(pieces[1])
            days.update(
                range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            )
        else:
            days.add(_parse_day(part))
    return sorted(days)


def _parse_time(text: str) -> str:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise WindowSyntaxError(
            _("%(time)s is not a valid time: write hours from 00:00 to 24:00.") % {"time": text}
        )
    return f"{hours:02d}:{minutes:02d}"


def _check_order(start: str, end: str) -> None:
    if start == end:
        raise WindowSyntaxError(
            _("The window %(start)s-%(end)s is empty: the end must be later than the start.")
            % {"start": start, "end": end}
        )
    if end < start:
        raise WindowSyntaxError(
            _(
                "The end time %(end)s is earlier than the start time %(start)s: a window "
                "cannot pass midnight, so split it in two, e.g. “%(example)s”."
            )
            % {"end": end, "start": start, "example": _("Fri 22:00-24:00; Sat 00:00-02:00")}
        )


def _reads_as_days(text: str) -> bool:
    try:
        _parse_days(text)
    except WindowSyntaxError:
        return False
    return True


def _parse_chunk(chunk: str) -> list[dict]:
    match = _HOURS_AT_END_RE.search(chunk)
    if match is None:
        if not re.search(r"\d", chunk) and _reads_as_days(chunk):
            raise WindowSyntaxError(
                _("“%(part)s” has no hours: add them, e.g. “%(part)s 10:00-22:00”.")
                % {"part": chunk}
            )
        raise WindowSyntaxError(
            _("Cannot read “%(part)s”: write days and hours like %(example)s.")
            % {"part": chunk, "example": _example()}
        )
    days = _parse_days(chunk[: match.start()])
    windows = []
    for hours in _TIME_RANGE_RE.finditer(match["hours"]):
        start, end = _parse_time(hours["start"]), _parse_time(hours["end"])
        _check_order(start, end)
        windows.append({"days": days, "start": start, "end": end})
    return windows


def _check_overlaps(windows: list[dict]) -> None:
    for index, later in enumerate(windows):
        for earlier in windows[:index]:
            shared = sorted(set(later["days"]) & set(earlier["days"]))
            if shared and later["start"] < earlier["end"] and earlier["start"] < later["end"]:
                raise WindowSyntaxError(
                    _("“%(later)s” overlaps “%(earlier)s” on %(days)s: give each day's hours once.")
                    % {
                        "later": format_windows([later]),
                        "earlier": format_windows([earlier]),
                        "days": _days_text(shared),
                    }
                )


def parse_windows(text: str) -> list[dict]:
    """ "Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00", "周一至周五 10:00-22:00；周六、周日
    09:00-18:00" or "10:00-22:00" (every day) -> [{"days": [0..4], "start": ..}, ..].
    Raises WindowSyntaxError with one sentence saying what is wrong."""
    text = unicodedata.normalize("NFKC", text or "")
    # A comma after hours that is followed by days starts the next window:
    # "周一至周五 10:00-22:00，周六 09:00-18:00".
    text = re.sub(rf"({_TIME})\s*[,、]\s*(?=[^\d\s,、])", r"\1;", text)
    windows: list[dict] = []
    for chunk in re.split(r"[;\n]+", text):
        chunk = chunk.strip()
        if chunk:  # an empty part (a trailing "；") holds nothing
            windows.extend(_parse_chunk(chunk))
    _check_overlaps(windows)
    return windows


def _day_runs(days: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive days, wrapping over Sunday→Monday (Fri to Mon is one run)."""
    present = set(days)
    if len(present) == 7:
        return [(0, 6)]
    starts = [day for day in range(7) if day in present and (day - 1) % 7 not in present]
    runs = []
    for first in starts:
        last = first
        while (last + 1) % 7 in present:
            last = (last + 1) % 7
        runs.append((first, last))
    return runs


def _day_name(day: int) -> str:
    names = [
        pgettext("weekday", "Mon"),
        pgettext("weekday", "Tue"),
        pgettext("weekday", "Wed"),
        pgettext("weekday", "Thu"),
        pgettext("weekday", "Fri"),
        pgettext("weekday", "Sat"),
        pgettext("weekday", "Sun"),
    ]
    return names[day]


def _days_text(days: list[int]) -> str:
    if len(set(days)) == 7:
        return pgettext("weekdays", "Every day")
    names = []
    for first, last in _day_runs(days):
        length = (last - first) % 7 + 1
        if length >= 3:
            names.append(
                pgettext("weekday range", "%(first)s–%(last)s")  # noqa: RUF001
                % {"first": _day_name(first), "last": _day_name(last)}
            )
        else:
            names.extend(_day_name((first + step) % 7) for step in range(length))
    return pgettext("weekday list separator", ", ").join(names)


def format_windows(windows: list[dict]) -> str:
    """The windows in the reader's language, ranges with an en dash: "Mon-Fri 10:00-22:00;
    Sat, Sun 09:00-18:00" or "周一至周五 10:00-22:00；周六、周日 09:00-18:00" (one function
    for the console, the clerk page and refusals). `parse_windows` reads it back."""
    parts = [
        pgettext("time window", "%(days)s %(start)s–%(end)s")  # noqa: RUF001
        % {"days": _days_text(window["days"]), "start": window["start"], "end": window["end"]}
        for window in windows
    ]
    return pgettext("time window separator", "; ").join(parts)


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
