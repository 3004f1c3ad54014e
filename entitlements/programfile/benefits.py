"""The `benefits` section: the catalog, with each benefit's sources, fallbacks and
pack items (see the package's docstring)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Segment
from members.regions import is_province_code
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
from vouchers.models import VoucherBatch

from ..models import Benefit, BenefitFallback, BenefitSource, PackItem
from .common import moment, money

CODE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
SUPPLIER_SOURCE = "supplier:"
# Decimal fields: (places, largest value) from their columns.
DECIMALS = {
    "face_value": Decimal("9999999999.99"),
    "cost": Decimal("9999999999.99"),
    "budget": Decimal("999999999999.99"),
}
DEFAULTS: dict[str, Any] = {  # in the order PROGRAM.md (and export) write them
    "face_value": None,
    "currency": "CNY",
    "cost": Decimal("0"),
    "sources": [],
    "fallbacks": [],
    "points_price": None,
    "exchange_limit": None,
    "exchange_period": Benefit.Period.MONTH.value,
    "budget": None,
    "region": "",
    "segment": None,
    "items": [],
    "valid_days": None,
    "active": True,
    "active_from": None,
    "active_until": None,
    "priority": 100,
    "description": "",
    "image_url": "",
}
MODEL_FIELDS = (
    "name",
    "kind",
    "face_value",
    "currency",
    "cost",
    "points_price",
    "exchange_limit",
    "exchange_period",
    "region",
    "budget",
    "valid_days",
    "active",
    "active_from",
    "active_until",
    "priority",
    "description",
    "image_url",
)


class BenefitsSection(Section):
    name = "benefits"
    KEYS = ("code", "name", "kind", *(key for key in DEFAULTS if key not in ("name", "kind")))

    # What the other benefits in the file are, for fallbacks and items (and the matrix).
    @staticmethod
    def kinds(context: Context) -> dict[str, str]:
        """Benefit code → kind: the database's, overridden by the file's."""
        kinds = dict(Benefit.objects.values_list("code", "kind"))
        value = context.section("benefits")
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("code"), str):
                    kinds[item["code"]] = item.get("kind")
        return kinds

    def validate(self, value: Any, context: Context) -> None:
        if not isinstance(value, list):
            context.error(self.name, _("a list of benefits is required"))
            return
        kinds = self.kinds(context)
        batches = set(VoucherBatch.objects.values_list("code", flat=True))
        segments = set(Segment.objects.values_list("code", flat=True))
        used = dict(Benefit.objects.filter(budget__isnull=False).values_list("code", "budget_used"))
        seen: set[str] = set()
        for place, item in iter_places(self.name, value):
            if not isinstance(item, dict):
                context.error(place, _("a mapping with code, name and kind is required"))
                continue
            check_keys(context, place, item, self.KEYS)
            code = self._check_code(context, place, item, seen)
            name = item.get("name")
            if not isinstance(name, str) or not name.strip() or len(name) > 100:
                context.error(f"{place}.name", _("a name of 1 to 100 characters is required"))
            kind = item.get("kind")
            if kind not in Benefit.Kind.values:
                context.error(
                    f"{place}.kind",
                    _("one of %(choices)s is required")
                    % {"choices": ", ".join(Benefit.Kind.values)},
                )
            self._check_fields(context, place, item, segments)
            budget = decimal_value(item.get("budget"), maximum=DECIMALS["budget"])
            if code in used and budget is not None and budget < used[code]:
                context.error(
                    f"{place}.budget",
                    _("below the %(used)s already used") % {"used": money(used[code])},
                )
            self._check_sources(context, place, item, kind, batches)
            self._check_links(context, place, item, code, kind, kinds)

    def _check_code(self, context: Context, place: str, item: dict, seen: set[str]) -> str | None:
        code = item.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            context.error(
                f"{place}.code", _("a code of 1 to 40 letters, digits, - or _ is required")
            )
            return None
        if code in seen:
            context.error(f"{place}.code", _('"%(code)s" is named twice') % {"code": code})
            return None
        seen.add(code)
        return code

    def _check_fields(self, context: Context, place: str, item: dict, segments: set[str]) -> None:
        for key, maximum in DECIMALS.items():
            if item.get(key) is not None and decimal_value(item[key], maximum=maximum) is None:
                context.error(
                    f"{place}.{key}",
                    _("a number of 0 or more with at most 2 decimals is required"),
                )
        for key, low, high in (
            ("points_price", 1, 10**9),
            ("exchange_limit", 1, 10**6),
            ("valid_days", 1, 36500),
            ("priority", 0, 32767),
        ):
            number = item.get(key)
            if number is not None and (not whole(number) or not low <= number <= high):
                context.error(
                    f"{place}.{key}",
                    _("a whole number from %(low)d to %(high)d is required")
                    % {"low": low, "high": high},
                )
        if "currency" in item and not (
            isinstance(item["currency"], str) and CURRENCY.match(item["currency"])
        ):
            context.error(f"{place}.currency", _("a currency code of 3 capitals is required"))
        if "exchange_period" in item and item["exchange_period"] not in Benefit.Period.values:
            context.error(
                f"{place}.exchange_period",
                _("one of %(choices)s is required") % {"choices": ", ".join(Benefit.Period.values)},
            )
        region = item.get("region")
        if region not in (None, "") and not is_province_code(region):
            context.error(
                f"{place}.region", _("a province code (6 digits ending in 0000) or empty")
            )
        segment = item.get("segment")
        if segment is not None and segment not in segments:
            context.error(f"{place}.segment", _('no segment "%(code)s"') % {"code": segment})
        kind = item.get("kind")
        if (
            item.get("valid_days") is not None
            and kind in Benefit.Kind.values
            and kind != "privilege"
        ):
            context.error(f"{place}.valid_days", _("only a privilege has a validity"))
        if "active" in item and not isinstance(item["active"], bool):
            context.error(f"{place}.active", _("true or false is required"))
        window = {}
        for key in ("active_from", "active_until"):
            if item.get(key) is not None:
                window[key] = moment(item[key])
                if window[key] is None:
                    context.error(
                        f"{place}.{key}",
                        _("a date and time is required, e.g. 2026-12-01T00:00:00+08:00"),
                    )
        start, end = window.get("active_from"), window.get("active_until")
        if start and end and end <= start:
            context.error(f"{place}.active_until", _("must be after active_from"))
        for key in ("description", "image_url"):
            if key in item and not isinstance(item[key], str):
                context.error(f"{place}.{key}", _("text is required"))
        if isinstance(item.get("image_url"), str) and item["image_url"]:
            try:
                URLValidator()(item["image_url"])
            except ValidationError:
                context.error(f"{place}.image_url", _("a web address (https://…) is required"))

    def _check_sources(
        self, context: Context, place: str, item: dict, kind: Any, batches: set[str]
    ) -> None:
        sources = item.get("sources")
        if sources is None:
            return
        if not isinstance(sources, list):
            context.error(f"{place}.sources", _("a list of voucher batch codes is required"))
            return
        if sources and kind == Benefit.Kind.PACK:
            context.error(f"{place}.sources", _("a pack has items, not sources"))
            return
        seen: set[str] = set()
        for where, source in iter_places(f"{place}.sources", sources):
            if not isinstance(source, str) or not source:
                context.error(where, _("a voucher batch code is required"))
            elif source.startswith(SUPPLIER_SOURCE):
                context.error(
                    where,
                    _(
                        "supplier products are not supported as sources yet (they come "
                        "with the suppliers); name a voucher batch"
                    ),
                )
            elif source not in batches:
                context.error(where, _('no batch "%(code)s"') % {"code": source})
            elif source in seen:
                context.error(where, _('"%(code)s" is named twice') % {"code": source})
            else:
                seen.add(source)

    def _check_links(
        self,
        context: Context,
        place: str,
        item: dict,
        code: str | None,
        kind: Any,
        kinds: dict[str, str],
    ) -> None:
        fallbacks = item.get("fallbacks")
        if fallbacks is not None:
            if not isinstance(fallbacks, list):
                context.error(f"{place}.fallbacks", _("a list of benefit codes is required"))
            elif fallbacks and kind == Benefit.Kind.PACK:
                context.error(
                    f"{place}.fallbacks", _("a pack has no fallbacks; give its items fallbacks")
                )
            else:
                seen: set[str] = set()
                for where, other in iter_places(f"{place}.fallbacks", fallbacks):
                    problem = self._link_problem(other, code, kinds, seen)
                    if problem:
                        context.error(where, problem)
        items = item.get("items")
        if kind == Benefit.Kind.PACK and not items:
            context.error(
                f"{place}.items", _("a pack needs its items: [{benefit: CODE, quantity: N}]")
            )
        if items is None or kind != Benefit.Kind.PACK:
            if items:
                context.error(f"{place}.items", _("only a pack has items"))
            return
        if not isinstance(items, list):
            context.error(f"{place}.items", _("a list of {benefit, quantity} is required"))
            return
        seen = set()
        for where, entry in iter_places(f"{place}.items", items):
            if not isinstance(entry, dict):
                context.error(where, _("a mapping {benefit: CODE, quantity: N} is required"))
                continue
            check_keys(context, where, entry, ("benefit", "quantity"))
            problem = self._link_problem(entry.get("benefit"), code, kinds, seen)
            if problem:
                context.error(f"{where}.benefit", problem)
            quantity = entry.get("quantity", 1)
            if not whole(quantity) or not 1 <= quantity <= 100:
                context.error(
                    f"{where}.quantity",
                    _("a whole number from %(low)d to %(high)d is required")
                    % {"low": 1, "high": 100},
                )

    @staticmethod
    def _link_problem(other: Any, code: str | None, kinds: dict[str, str], seen: set[str]) -> str:
        if not isinstance(other, str) or other not in kinds:
            return _('no benefit "%(code)s"') % {"code": other}
        if other == code:
            return _("a benefit cannot stand for itself")
        if kinds[other] == Benefit.Kind.PACK:
            return _('"%(code)s" is a pack; a pack cannot be inside another or stand in') % {
                "code": other
            }
        if other in seen:
            return _('"%(code)s" is named twice') % {"code": other}
        seen.add(other)
        return ""

    # --- normal form, plan, apply, export ---

    @staticmethod
    def _normal(item: dict) -> dict:
        """A valid file entry as comparable values (the snapshot's form)."""
        data: dict[str, Any] = {"name": item["name"].strip(), "kind": item["kind"]}
        for key, default in DEFAULTS.items():
            value = item.get(key, default)
            if value is None:
                value = default
            if key in DECIMALS and value is not None:
                value = decimal_value(value, maximum=DECIMALS[key])
            elif key in ("active_from", "active_until") and value is not None:
                value = moment(value)
            elif key == "items":
                value = [
                    {"benefit": entry["benefit"], "quantity": entry.get("quantity", 1)}
                    for entry in value
                ]
            elif key in ("sources", "fallbacks"):
                value = list(value)
            data[key] = value
        return data

    @staticmethod
    def _snapshots(codes: list[str] | None = None) -> dict[str, dict]:
        benefits = Benefit.objects.select_related("segment")
        if codes is not None:
            benefits = benefits.filter(code__in=codes)
        found: dict[str, dict] = {}
        by_id: dict[int, dict] = {}
        for benefit in benefits:
            data = {key: getattr(benefit, key) for key in MODEL_FIELDS}
            data["segment"] = benefit.segment.code if benefit.segment_id else None
            data.update(sources=[], fallbacks=[], items=[])
            found[benefit.code] = by_id[benefit.pk] = data
        ids = list(by_id)
        for benefit_id, batch in (
            BenefitSource.objects.filter(benefit_id__in=ids)
            .order_by("position", "id")
            .values_list("benefit_id", "batch__code")
        ):
            by_id[benefit_id]["sources"].append(batch)
        for benefit_id, other in (
            BenefitFallback.objects.filter(benefit_id__in=ids)
            .order_by("position", "id")
            .values_list("benefit_id", "fallback__code")
        ):
            by_id[benefit_id]["fallbacks"].append(other)
        for pack_id, item, quantity in (
            PackItem.objects.filter(pack_id__in=ids)
            .order_by("position", "id")
            .values_list("pack_id", "item__code", "quantity")
        ):
            by_id[pack_id]["items"].append({"benefit": item, "quantity": quantity})
        return found

    def plan(self, value: Any, context: Context) -> list[Change]:
        current = self._snapshots([item["code"] for item in value])
        changes: list[Change] = []
        for item in value:
            changes += diff(self.name, item["code"], current.get(item["code"]), self._normal(item))
        return changes

    def apply(self, value: Any, context: Context) -> None:
        codes = [item["code"] for item in value]
        current = self._snapshots(codes)
        wanted = {item["code"]: self._normal(item) for item in value}
        existing = {b.code: b for b in Benefit.objects.select_for_update().filter(code__in=codes)}
        segments = dict(Segment.objects.values_list("code", "pk"))
        # First every benefit, then the links: a fallback or an item may come later.
        for code, data in wanted.items():
            before = current.get(code, {})
            if before == data:
                continue
            benefit = existing.get(code) or Benefit(code=code)
            for key in MODEL_FIELDS:
                setattr(benefit, key, data[key])
            benefit.segment_id = segments.get(data["segment"]) if data["segment"] else None
            benefit.save()
            existing[code] = benefit
        ids = dict(Benefit.objects.values_list("code", "pk"))
        batches = dict(
            VoucherBatch.objects.filter(
                code__in={s for data in wanted.values() for s in data["sources"]}
            ).values_list("code", "pk")
        )
        for code, data in wanted.items():
            before = current.get(code, {})
            if before == data:
                continue
            benefit = existing[code]
            if before.get("sources") != data["sources"]:
                benefit.sources.all().delete()
                BenefitSource.objects.bulk_create(
                    BenefitSource(benefit=benefit, batch_id=batches[batch], position=n)
                    for n, batch in enumerate(data["sources"])
                )
            if before.get("fallbacks") != data["fallbacks"]:
                benefit.fallback_links.all().delete()
                BenefitFallback.objects.bulk_create(
                    BenefitFallback(benefit=benefit, fallback_id=ids[other], position=n)
                    for n, other in enumerate(data["fallbacks"])
                )
            if before.get("items") != data["items"]:
                benefit.items.all().delete()
                PackItem.objects.bulk_create(
                    PackItem(
                        pack=benefit,
                        item_id=ids[entry["benefit"]],
                        quantity=entry["quantity"],
                        position=n,
                    )
                    for n, entry in enumerate(data["items"])
                )
            record(benefit, before=before, after=data, actor=context.actor, label=code)

    def export(self) -> Any:
        snapshots = self._snapshots()
        if not snapshots:
            return None
        order = Benefit.objects.order_by("priority", "code").values_list("code", flat=True)
        exported = []
        for code in order:
            data = snapshots[code]
            item: dict[str, Any] = {"code": code, "name": data["name"], "kind": data["kind"]}
            for key, default in DEFAULTS.items():
                value = data[key]
                if value == default or (value is None and default is None):
                    continue
                if key in DECIMALS:
                    value = money(value)
                elif key in ("active_from", "active_until"):
                    value = timezone.localtime(value).isoformat()
                elif key == "items":
                    value = [
                        {"benefit": entry["benefit"]}
                        if entry["quantity"] == 1
                        else {"benefit": entry["benefit"], "quantity": entry["quantity"]}
                        for entry in value
                    ]
                item[key] = value
            exported.append(item)
        return exported
