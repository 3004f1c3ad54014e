"""What the benefits' program-file sections share: value checks, the diff, the audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.programfile import Change, Context


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decimal_value(value: Any, maximum: Decimal) -> Decimal | None:
    """A number of 0 or more with at most 2 decimals (int, float or string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        return None
    return number if number == number.quantize(Decimal("0.01")) else None


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


def record(obj, *, before: dict, after: dict, actor: Actor | None, label: str) -> None:
    changes = audit_changes(before, after)
    if before and not changes:
        return
    audit_record(
        subject=obj,
        action="update" if before else "create",
        actor=actor or Actor.system("program"),
        changes={**changes, "via": "program file"},
        label=label,
    )


def diff(section: str, code: str, current: dict | None, wanted: dict) -> list[Change]:
    if current is None:
        fields = {key: (None, value) for key, value in wanted.items()}
        return [Change(section=section, code=code, action="create", fields=fields)]
    fields = {
        key: (current.get(key), value) for key, value in wanted.items() if current.get(key) != value
    }
    return [Change(section=section, code=code, action="update", fields=fields)] if fields else []


def check_keys(context: Context, place: str, item: dict, allowed: tuple[str, ...]) -> None:
    for key in item:
        if key not in allowed:
            context.error(
                f"{place}.{key}",
                _("unknown field (known: %(keys)s)") % {"keys": ", ".join(allowed)},
            )
