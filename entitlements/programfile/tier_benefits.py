"""The `tier_benefits` section: the tier benefit matrix, one row per (tier, benefit),
upserted in place so a row keeps its id (automatic grants' dedupe keys name it)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from members.models import Tier
from riskcontrol.programfile import (
    Change,
    Context,
    Section,
    check_keys,
    diff,
    iter_places,
    record,
    whole,
)

from ..models import Benefit, PackItem, TierBenefit
from ..services.automatic import NEEDS_INPUT
from .benefits import BenefitsSection


class TierBenefitsSection(Section):
    name = "tier_benefits"
    KEYS = ("tier", "benefit", "quota", "period", "mode")

    @staticmethod
    def _key(item: dict) -> str:
        return f"{item['tier']}/{item['benefit']}"

    def validate(self, value: Any, context: Context) -> None:
        if not isinstance(value, list):
            context.error(
                self.name, _("a list of {tier, benefit, quota, period, mode} is required")
            )
            return
        tiers = set(Tier.objects.values_list("code", flat=True))
        file_tiers = context.section("tiers")
        if isinstance(file_tiers, list):
            tiers |= {item.get("code") for item in file_tiers if isinstance(item, dict)}
        kinds = BenefitsSection.kinds(context)
        needs_input = self._needs_input(context, kinds)
        seen: set[tuple[str, str]] = set()
        for place, item in iter_places(self.name, value):
            if not isinstance(item, dict):
                context.error(place, _("a mapping with tier and benefit is required"))
                continue
            check_keys(context, place, item, self.KEYS)
            tier, benefit = item.get("tier"), item.get("benefit")
            if not isinstance(tier, str) or tier not in tiers:
                context.error(f"{place}.tier", _('no tier "%(code)s"') % {"code": tier})
            if not isinstance(benefit, str) or benefit not in kinds:
                context.error(f"{place}.benefit", _('no benefit "%(code)s"') % {"code": benefit})
            elif (tier, benefit) in seen:
                context.error(
                    place,
                    _('"%(tier)s" and "%(benefit)s" are named twice')
                    % {"tier": tier, "benefit": benefit},
                )
            seen.add((tier, benefit))
            quota = item.get("quota", 1)
            if not whole(quota) or not 1 <= quota <= 10**6:
                context.error(
                    f"{place}.quota",
                    _("a whole number from %(low)d to %(high)d is required")
                    % {"low": 1, "high": 10**6},
                )
            if item.get("period", "month") not in Benefit.Period.values:
                context.error(
                    f"{place}.period",
                    _("one of %(choices)s is required")
                    % {"choices": ", ".join(Benefit.Period.values)},
                )
            mode = item.get("mode", TierBenefit.Mode.CLAIMABLE)
            if mode not in TierBenefit.Mode.values:
                context.error(
                    f"{place}.mode",
                    _("one of %(choices)s is required")
                    % {"choices": ", ".join(TierBenefit.Mode.values)},
                )
            elif mode != TierBenefit.Mode.CLAIMABLE and benefit in needs_input:
                context.error(
                    f"{place}.mode",
                    _("%(code)s needs the member's address or account: it can only be claimable")
                    % {"code": benefit},
                )

    @staticmethod
    def _needs_input(context: Context, kinds: dict[str, str]) -> set[str]:
        """Benefits an automatic grant cannot fulfil: a gift, a top-up, or a pack that
        holds one (the file's items, else the database's)."""
        needs = {code for code, kind in kinds.items() if kind in NEEDS_INPUT}
        items: dict[str, list[str]] = {}
        for pack, item in PackItem.objects.values_list("pack__code", "item__code"):
            items.setdefault(pack, []).append(item)
        value = context.section("benefits")
        for entry in value if isinstance(value, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("items"), list):
                items[entry.get("code")] = [
                    one.get("benefit") for one in entry["items"] if isinstance(one, dict)
                ]
        return needs | {pack for pack, held in items.items() if needs.intersection(held)}

    @staticmethod
    def _normal(item: dict) -> dict:
        return {
            "quota": item.get("quota", 1),
            "period": item.get("period", Benefit.Period.MONTH.value),
            "mode": item.get("mode", TierBenefit.Mode.CLAIMABLE.value),
        }

    @staticmethod
    def _current() -> dict[str, TierBenefit]:
        return {
            f"{row.tier.code}/{row.benefit.code}": row
            for row in TierBenefit.objects.select_related("tier", "benefit")
        }

    @staticmethod
    def _snapshot(row: TierBenefit) -> dict:
        return {"quota": row.quota, "period": row.period, "mode": row.mode}

    def plan(self, value: Any, context: Context) -> list[Change]:
        current = self._current()
        changes: list[Change] = []
        for item in value:
            row = current.get(self._key(item))
            before = None if row is None else self._snapshot(row)
            changes += diff(self.name, self._key(item), before, self._normal(item))
        return changes

    def apply(self, value: Any, context: Context) -> None:
        current = self._current()
        tiers = dict(Tier.objects.values_list("code", "pk"))
        benefits = dict(Benefit.objects.values_list("code", "pk"))
        for item in value:
            key, wanted = self._key(item), self._normal(item)
            row = current.get(key)
            before = {} if row is None else self._snapshot(row)
            if before == wanted:
                continue
            row = row or TierBenefit(
                tier_id=tiers[item["tier"]], benefit_id=benefits[item["benefit"]]
            )
            for field, data in wanted.items():
                setattr(row, field, data)
            row.save()
            record(row, before=before, after=wanted, actor=context.actor, label=key)

    def export(self) -> Any:
        rows = TierBenefit.objects.select_related("tier", "benefit").order_by(
            "tier__rank", "benefit__priority", "benefit__code"
        )
        exported = [
            {
                "tier": row.tier.code,
                "benefit": row.benefit.code,
                "quota": row.quota,
                "period": row.period,
                "mode": row.mode,
            }
            for row in rows
        ]
        return exported or None
