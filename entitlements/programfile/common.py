"""Value checks the benefits' program-file sections share (the diff, the audit and the
key check are the program file core's: `riskcontrol.programfile`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone


def moment(value: Any) -> dt.datetime | None:
    """An ISO 8601 date and time (YAML may have parsed it already); without a zone it
    is platform time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))
