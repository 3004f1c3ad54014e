"""What a date without a time means, wherever one is accepted for a voucher or a batch.

A date alone that ends something (a voucher's expiry in a card-stock file, a batch's
`valid_until`) means the end of that day in the platform time zone (`TIME_ZONE`):
"2027-06-30" is stored as 2027-06-30T23:59:59.999999+08:00, the last instant of the day,
so it reads as the day the operator typed. A voucher is valid while now < expires_at
(the expiry task takes it when expires_at <= now), so it stays valid through that day.
A date alone that starts something (`valid_from`) means the start of that day. A value
with an explicit time keeps its time (without an offset, it is read in the platform
time zone).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _


def date_rule() -> str:
    """The rule in one sentence, for the import report and the console."""
    return _(
        "A date without a time means the end of that day (23:59:59.999999) in the platform "
        "time zone (%(zone)s); a date with a time keeps its time."
    ) % {"zone": settings.TIME_ZONE}


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of `day` in the platform time zone."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=timezone.get_current_timezone())


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def parse_moment(text: str, *, day_end: bool) -> dt.datetime | None:
    """An ISO 8601 date or date and time. A date alone is the end of that day when
    `day_end` (an expiry, a batch's end), else its start. None if it is neither."""
    text = text.strip()
    day = parse_date(text) if len(text) <= 10 else None
    if day is not None:
        return end_of_day(day) if day_end else start_of_day(day)
    moment = parse_datetime(text)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class DayOrMomentField(forms.SplitDateTimeField):
    """The console's date + time field, where the time may be left empty: the date
    alone then means the end of that day (`day_end`) or its start."""

    def __init__(self, *, day_end: bool, **kwargs):
        self.day_end = day_end
        super().__init__(**kwargs)

    def compress(self, data_list):
        if (
            data_list
            and data_list[0] not in self.empty_values
            and data_list[1] in self.empty_values
        ):
            day = data_list[0]
            return end_of_day(day) if self.day_end else start_of_day(day)
        return super().compress(data_list)
