"""The member program's sections of the program file (PROGRAM.md): `tier_policy`,
`tiers` and `earning_rules`, registered in `MembersConfig.program_sections` and run by
`riskcontrol.programfile`.

Each object in the file is its full description: upserted by `code`, an optional field
left out takes its default (a tier without `retention` keeps its threshold). Objects the
file does not name are left alone. A tier's `rank` follows its place in the list
(10, 20, 30 …) unless the file gives `rank`; export writes `rank` only when it differs,
so `export | apply` changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from riskcontrol.programfile import (
    Change,
    Context,
    Section,
    check_keys,
    decimal_value,
    diff,
    iter_places,
    record,
    whole,
)

from .ladder import Step, ladder_breaks, retention_too_high
from .models import EarningRule, MemberEvent, Tier, TierPolicy

CODE = re.compile(r"^[-a-zA-Z0-9_]{1,32}$")
RANK_STEP = 10
MAX_RANK = 32767


MAX_NUMBER = Decimal("999999")  # the largest per-yuan amount or multiplier a rule may give


def _plain(number: Decimal | None) -> Any:
    """A Decimal as the file writes it: an int when whole, else a string ("1.5")."""
    if number is None:
        return None
    if number == number.to_integral_value():
        return int(number)
    return str(number.normalize())


def _check_code(context: Context, place: str, item: dict, seen: set[str]) -> str | None:
    code = item.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        context.error(f"{place}.code", _("a code of 1 to 32 letters, digits, - or _ is required"))
        return None
    if code in seen:
        context.error(f"{place}.code", _('"%(code)s" is named twice') % {"code": code})
        return None
    seen.add(code)
    return code


def _check_name(context: Context, place: str, item: dict, *, required: bool) -> None:
    name = item.get("name")
    if name is None and not required:
        return
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        context.error(f"{place}.name", _("a name of 1 to 64 characters is required"))


def _int_field(context: Context, place: str, item: dict, key: str, *, low: int, high: int) -> None:
    if key in item and item[key] is not None:
        value = item[key]
        if not whole(value) or not low <= value <= high:
            context.error(
                f"{place}.{key}",
                _("a whole number from %(low)d to %(high)d is required")
                % {"low": low, "high": high},
            )


# --- tier_policy ------------------------------------------------------------------------


class TierPolicySection(Section):
    name = "tier_policy"
    KEYS = ("qualifying_months", "hold_months", "downgrade")
    DEFAULTS = {"qualifying_months": 12, "hold_months": 12, "downgrade": "one_step"}

    def validate(self, value: Any, context: Context) -> None:
        if not isinstance(value, dict):
            context.error(
                self.name, _("a mapping is required (qualifying_months, hold_months, downgrade)")
            )
            return
        check_keys(context, self.name, value, self.KEYS)
        _int_field(context, self.name, value, "qualifying_months", low=1, high=120)
        _int_field(context, self.name, value, "hold_months", low=0, high=120)
        if "downgrade" in value and value["downgrade"] not in TierPolicy.Downgrade.values:
            context.error(
                f"{self.name}.downgrade",
                _("one of %(choices)s is required")
                % {"choices": ", ".join(TierPolicy.Downgrade.values)},
            )

    def _wanted(self, value: dict) -> dict:
        return {key: value.get(key, default) for key, default in self.DEFAULTS.items()}

    def _current(self) -> dict | None:
        policy = TierPolicy.objects.filter(pk=1).first()
        return None if policy is None else {key: getattr(policy, key) for key in self.KEYS}

    def plan(self, value: Any, context: Context) -> list[Change]:
        current = self._current() or dict(self.DEFAULTS)  # the defaults hold until saved
        return diff(self.name, "", current, self._wanted(value))

    def apply(self, value: Any, context: Context) -> None:
        wanted = self._wanted(value)
        policy, _created = TierPolicy.objects.select_for_update().get_or_create(pk=1)
        before = {key: getattr(policy, key) for key in self.KEYS}
        if before == wanted:
            return
        for key, item in wanted.items():
            setattr(policy, key, item)
        policy.save()
        record(policy, before=before, after=wanted, actor=context.actor, label=self.name)

    def export(self) -> Any:
        return self._current() or dict(self.DEFAULTS)


# --- tiers ------------------------------------------------------------------------------


class TiersSection(Section):
    name = "tiers"
    KEYS = ("code", "name", "threshold", "retention", "description", "rank")
    FIELDS = ("name", "rank", "threshold", "retention", "description")

    def _wanted(self, value: list) -> dict[str, dict]:
        wanted = {}
        for index, item in enumerate(value):
            wanted[item["code"]] = {
                "name": item["name"].strip(),
                "rank": item.get("rank") or (index + 1) * RANK_STEP,
                "threshold": item.get("threshold") or 0,
                "retention": item.get("retention"),
                "description": item.get("description") or "",
            }
        return wanted

    def validate(self, value: Any, context: Context) -> None:
        if not isinstance(value, list):
            context.error(self.name, _("a list of tiers is required, lowest first"))
            return
        seen: set[str] = set()
        ok = True
        for place, item in iter_places(self.name, value):
            if not isinstance(item, dict):
                context.error(place, _("a mapping with code, name and threshold is required"))
                ok = False
                continue
            before = len(context.problems)
            check_keys(context, place, item, self.KEYS)
            _check_code(context, place, item, seen)
            _check_name(context, place, item, required=True)
            _int_field(context, place, item, "threshold", low=0, high=10**9)
            _int_field(context, place, item, "retention", low=0, high=10**9)
            _int_field(context, place, item, "rank", low=1, high=MAX_RANK - 100)
            if "description" in item and not isinstance(item["description"], str):
                context.error(f"{place}.description", _("text is required"))
            if len(context.problems) == before:
                retention, threshold = item.get("retention"), item.get("threshold") or 0
                if retention_too_high(threshold, retention):
                    context.error(
                        f"{place}.retention",
                        _("must not be above the threshold (%(n)d)") % {"n": threshold},
                    )
            ok = ok and len(context.problems) == before
        if ok:
            self._validate_ladder(value, context)

    def _validate_ladder(self, value: list, context: Context) -> None:
        """The file merged with the tiers it does not name, checked by the one ladder
        rule (`members.ladder`); each break is reported at a place in the file."""
        wanted = self._wanted(value)
        place_of = {item["code"]: f"{self.name}[{i}]" for i, item in enumerate(value)}
        steps = [
            Step(tier.code, tier.rank, tier.threshold)
            for tier in Tier.objects.exclude(code__in=list(wanted))
        ]
        steps += [Step(code, data["rank"], data["threshold"]) for code, data in wanted.items()]
        for found in ladder_breaks(steps):
            if found.kind == "rank_taken" and found.code in place_of:
                context.error(
                    f"{place_of[found.code]}.rank",
                    _('rank %(rank)d is already held by tier "%(other)s"')
                    % {"rank": found.other.rank, "other": found.other.code},
                )
            elif found.kind == "lowest_not_zero" and found.code in place_of:
                context.error(
                    f"{place_of[found.code]}.threshold",
                    _("the lowest tier must have threshold 0"),
                )
            elif found.kind == "not_rising":
                high, low = found.code, found.other.code
                code = high if high in place_of else low
                if code in place_of:
                    context.error(
                        f"{place_of[code]}.threshold",
                        _(
                            'thresholds must rise with rank: "%(high)s" (%(h)d) '
                            'is not above "%(low)s" (%(l)d)'
                        )
                        % {
                            "high": high,
                            "h": _threshold(steps, high),
                            "low": low,
                            "l": found.other.threshold,
                        },
                    )

    def _current(self) -> dict[str, dict]:
        return {
            tier.code: {field: getattr(tier, field) for field in self.FIELDS}
            for tier in Tier.objects.all()
        }

    def plan(self, value: Any, context: Context) -> list[Change]:
        current = self._current()
        changes: list[Change] = []
        for code, wanted in self._wanted(value).items():
            changes += diff(self.name, code, current.get(code), wanted)
        return changes

    def apply(self, value: Any, context: Context) -> None:
        wanted = self._wanted(value)
        existing = {
            tier.code: tier
            for tier in Tier.objects.select_for_update().filter(code__in=list(wanted))
        }
        # Ranks are unique: park the moving tiers on free ranks first, so a swap works.
        moving = [t for code, t in existing.items() if t.rank != wanted[code]["rank"]]
        taken = set(Tier.objects.values_list("rank", flat=True))
        spare = (rank for rank in range(MAX_RANK, 0, -1) if rank not in taken)
        for tier in moving:
            Tier.objects.filter(pk=tier.pk).update(rank=next(spare))
        for code, data in wanted.items():
            tier = existing.get(code)
            before = {} if tier is None else {f: getattr(tier, f) for f in self.FIELDS}
            if tier is None:
                tier = Tier(code=code)
            if before == data:
                continue
            for key, item in data.items():
                setattr(tier, key, item)
            tier.save()
            record(tier, before=before, after=data, actor=context.actor, label=code)

    def export(self) -> Any:
        tiers = []
        for index, tier in enumerate(Tier.objects.order_by("rank")):
            item: dict[str, Any] = {
                "code": tier.code,
                "name": tier.name,
                "threshold": tier.threshold,
            }
            if tier.retention is not None:
                item["retention"] = tier.retention
            if tier.description:
                item["description"] = tier.description
            if tier.rank != (index + 1) * RANK_STEP:
                item["rank"] = tier.rank
            tiers.append(item)
        return tiers


# --- earning_rules ----------------------------------------------------------------------

AMOUNT_KINDS = (MemberEvent.Kind.PURCHASE.value, MemberEvent.Kind.REFUND.value)
CUSTOM_KIND = re.compile(r"^custom\.[a-z0-9_]{1,50}$")


def _event_kind_ok(kind: Any) -> bool:
    return isinstance(kind, str) and (
        kind in MemberEvent.Kind.values or bool(CUSTOM_KIND.match(kind))
    )


class EarningRulesSection(Section):
    name = "earning_rules"
    KEYS = (
        "code",
        "name",
        "event",
        "points",
        "points_per_yuan",
        "growth",
        "growth_per_yuan",
        "tier_multipliers",
        "daily_cap",
        "points_valid_months",
        "points_pending_days",
        "active",
    )
    FIELDS = KEYS[1:]

    def _tier_codes(self, context: Context) -> set[str]:
        codes = set(Tier.objects.values_list("code", flat=True))
        tiers = context.section("tiers")
        if isinstance(tiers, list):
            codes |= {item.get("code") for item in tiers if isinstance(item, dict)}
        return codes

    def validate(self, value: Any, context: Context) -> None:
        if not isinstance(value, list):
            context.error(self.name, _("a list of earning rules is required"))
            return
        seen: set[str] = set()
        tier_codes = self._tier_codes(context)
        for place, item in iter_places(self.name, value):
            if not isinstance(item, dict):
                context.error(place, _("a mapping with code and event is required"))
                continue
            check_keys(context, place, item, self.KEYS)
            _check_code(context, place, item, seen)
            _check_name(context, place, item, required=False)
            event = item.get("event")
            if not _event_kind_ok(event):
                context.error(
                    f"{place}.event",
                    _("an event kind is required (%(kinds)s, or custom.<name>)")
                    % {"kinds": ", ".join(MemberEvent.Kind.values)},
                )
            for each, per_yuan in (("points", "points_per_yuan"), ("growth", "growth_per_yuan")):
                _int_field(context, place, item, each, low=0, high=10**6)
                if item.get(per_yuan) is not None:
                    if decimal_value(item[per_yuan], maximum=MAX_NUMBER) is None:
                        context.error(
                            f"{place}.{per_yuan}",
                            _("a number of 0 or more with at most 2 decimals is required"),
                        )
                    elif _event_kind_ok(event) and event not in AMOUNT_KINDS:
                        context.error(
                            f"{place}.{per_yuan}",
                            _("only purchase and refund events carry an amount; use %(each)s")
                            % {"each": each},
                        )
                    if item.get(each) is not None:
                        context.error(
                            f"{place}.{per_yuan}",
                            _("give either %(each)s or %(per_yuan)s, not both")
                            % {"each": each, "per_yuan": per_yuan},
                        )
            multipliers = item.get("tier_multipliers")
            if multipliers is not None:
                if not isinstance(multipliers, dict):
                    context.error(
                        f"{place}.tier_multipliers",
                        _("a mapping of tier code to multiplier is required"),
                    )
                else:
                    for tier, factor in multipliers.items():
                        where = f"{place}.tier_multipliers.{tier}"
                        if tier not in tier_codes:
                            context.error(where, _('no tier "%(code)s"') % {"code": tier})
                        number = decimal_value(factor, maximum=Decimal(100))
                        if number is None or number == 0:
                            context.error(
                                where,
                                _(
                                    "a multiplier above 0 and at most 100 "
                                    "with at most 2 decimals is required"
                                ),
                            )
            _int_field(context, place, item, "daily_cap", low=1, high=10**9)
            _int_field(context, place, item, "points_valid_months", low=1, high=120)
            _int_field(context, place, item, "points_pending_days", low=0, high=365)
            if "active" in item and not isinstance(item["active"], bool):
                context.error(f"{place}.active", _("true or false is required"))

    def _normal(self, item: dict) -> dict:
        per_yuan = {
            key: (
                decimal_value(item[key], maximum=MAX_NUMBER) if item.get(key) is not None else None
            )
            for key in ("points_per_yuan", "growth_per_yuan")
        }
        return {
            "name": item.get("name") or "",
            "event": item["event"],
            "points": item.get("points"),
            "points_per_yuan": per_yuan["points_per_yuan"],
            "growth": item.get("growth"),
            "growth_per_yuan": per_yuan["growth_per_yuan"],
            "tier_multipliers": {
                str(tier): str(decimal_value(factor, maximum=MAX_NUMBER).normalize())
                for tier, factor in (item.get("tier_multipliers") or {}).items()
            },
            "daily_cap": item.get("daily_cap"),
            "points_valid_months": item.get("points_valid_months"),
            "points_pending_days": item.get("points_pending_days") or 0,
            "active": item.get("active", True),
        }

    def _snapshot(self, rule: EarningRule) -> dict:
        data = {field: getattr(rule, field) for field in self.FIELDS}
        data["tier_multipliers"] = {
            str(tier): str(decimal_value(factor, maximum=MAX_NUMBER).normalize())
            if decimal_value(factor, maximum=MAX_NUMBER) is not None
            else str(factor)
            for tier, factor in (rule.tier_multipliers or {}).items()
        }
        return data

    def plan(self, value: Any, context: Context) -> list[Change]:
        current = {rule.code: self._snapshot(rule) for rule in EarningRule.objects.all()}
        changes: list[Change] = []
        for item in value:
            changes += diff(self.name, item["code"], current.get(item["code"]), self._normal(item))
        return changes

    def apply(self, value: Any, context: Context) -> None:
        codes = [item["code"] for item in value]
        existing = {
            rule.code: rule
            for rule in EarningRule.objects.select_for_update().filter(code__in=codes)
        }
        for item in value:
            wanted = self._normal(item)
            rule = existing.get(item["code"])
            before = {} if rule is None else self._snapshot(rule)
            if before == wanted:
                continue
            rule = rule or EarningRule(code=item["code"])
            for key, data in wanted.items():
                setattr(rule, key, data)
            rule.save()
            record(rule, before=before, after=wanted, actor=context.actor, label=rule.code)

    def export(self) -> Any:
        rules = []
        for rule in EarningRule.objects.order_by("code"):
            item: dict[str, Any] = {"code": rule.code}
            if rule.name:
                item["name"] = rule.name
            item["event"] = rule.event
            for key in ("points", "growth", "daily_cap", "points_valid_months"):
                if getattr(rule, key) is not None:
                    item[key] = getattr(rule, key)
            for key in ("points_per_yuan", "growth_per_yuan"):
                if getattr(rule, key) is not None:
                    item[key] = _plain(getattr(rule, key))
            if rule.tier_multipliers:
                item["tier_multipliers"] = {
                    tier: _plain(decimal_value(factor, maximum=MAX_NUMBER))
                    for tier, factor in rule.tier_multipliers.items()
                }
            if rule.points_pending_days:
                item["points_pending_days"] = rule.points_pending_days
            if not rule.active:
                item["active"] = False
            rules.append(item)
        return rules


def _threshold(steps: list[Step], code: str) -> int:
    return next(step.threshold for step in steps if step.code == code)
