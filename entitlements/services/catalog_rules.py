"""The catalog's rules, in one place: what makes a benefit, its sources, its fallbacks
and (for a pack) its items a valid whole. The console's benefit form calls
`benefit_errors` and shows each sentence on the field or the row it is about; other
writers of the catalog (the program file) can call it the same way.

Rules:
- a privilege has a validity (`valid_days`) and no stock of vouchers (no sources); only
  a privilege has a validity;
- a pack holds items (at least one, none of them a pack or the pack itself) and has no
  sources and no fallbacks; only a pack holds items; a benefit that is some other
  benefit's fallback or pack item cannot become a pack;
- a coupon takes coupon batches, a card secret card-secret batches, each batch once; a
  coupon or card secret needs a source or a fallback to grant from;
- a fallback (通兑) is a single benefit other than the benefit itself, each once; a
  physical gift or a direct top-up stands in only for a benefit of its own kind (it
  needs the address or account the member gave for that kind);
- an exchange limit needs a points price; the end of the active window comes after its
  start; a budget is not below what is already used; own units (`units_left`) are for a
  physical gift, a service or a privilege.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _

from vouchers.models import VoucherBatch

from ..models import Benefit, BenefitFallback, PackItem

Errors = dict[str, list[str]]

# The voucher batch kind each benefit kind takes (kinds not listed take either).
BATCH_KIND_FOR = {
    Benefit.Kind.COUPON: VoucherBatch.Kind.COUPON,
    Benefit.Kind.CARD_SECRET: VoucherBatch.Kind.CARD_SECRET,
}
_NEEDS_INPUT = (Benefit.Kind.PHYSICAL, Benefit.Kind.DIRECT_TOPUP)
_OWN_UNITS = (Benefit.Kind.PHYSICAL, Benefit.Kind.SERVICE, Benefit.Kind.PRIVILEGE)


def _add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def benefit_errors(
    benefit: Benefit,
    *,
    sources: Sequence[VoucherBatch] | None = None,
    fallbacks: Sequence[Benefit] | None = None,
    items: Sequence[Benefit] | None = None,
) -> Errors:
    """Why `benefit` (its fields as they would be saved) with these sources, fallbacks
    and items is not a valid catalog entry, as plain sentences: keyed by the benefit's
    field name, by "sources" / "fallbacks" / "items" for a whole list, and by
    "sources.<i>" (etc.) for the i-th row of a list. A list given as None is not
    judged (the field rules alone). Empty: valid."""
    errors: Errors = {}
    _field_rules(benefit, errors)
    if sources is not None:
        _source_rules(benefit, sources, fallbacks, errors)
    if fallbacks is not None:
        _fallback_rules(benefit, fallbacks, errors)
    if items is not None:
        _item_rules(benefit, items, errors)
    return errors


def _field_rules(benefit: Benefit, errors: Errors) -> None:
    kind = benefit.kind
    if kind == Benefit.Kind.PRIVILEGE and not benefit.valid_days:
        _add(errors, "valid_days", _("A privilege needs its validity: enter the valid days."))
    if kind != Benefit.Kind.PRIVILEGE and benefit.valid_days:
        _add(errors, "valid_days", _("Only a privilege has valid days; leave this empty."))
    if benefit.exchange_limit and benefit.points_price is None:
        _add(
            errors,
            "exchange_limit",
            _("An exchange limit needs a points price; enter the price or clear the limit."),
        )
    if benefit.active_from and benefit.active_until and benefit.active_until <= benefit.active_from:
        _add(errors, "active_until", _("The end of the active window must come after its start."))
    if benefit.budget is not None and benefit.budget < (benefit.budget_used or 0):
        _add(
            errors,
            "budget",
            _("The budget cannot be below what is already used (%(used)s).")
            % {"used": benefit.budget_used},
        )
    if benefit.units_left is not None and kind not in _OWN_UNITS:
        _add(
            errors,
            "units_left",
            _("Only a physical gift, a service or a privilege counts its own units."),
        )
    if kind == Benefit.Kind.PACK and benefit.pk:
        _pack_rules_for_links(benefit, errors)


def _pack_rules_for_links(benefit: Benefit, errors: Errors) -> None:
    """A benefit others use as a fallback or a pack item cannot become a pack."""
    used_as_fallback = (
        BenefitFallback.objects.filter(fallback=benefit).select_related("benefit").first()
    )
    if used_as_fallback:
        _add(
            errors,
            "kind",
            _("This benefit is a fallback of %(other)s; a pack cannot be a fallback.")
            % {"other": used_as_fallback.benefit.name},
        )
    in_pack = PackItem.objects.filter(item=benefit).select_related("pack").first()
    if in_pack:
        _add(
            errors,
            "kind",
            _("This benefit is in the pack %(other)s; a pack cannot hold another pack.")
            % {"other": in_pack.pack.name},
        )


def _source_rules(
    benefit: Benefit,
    sources: Sequence[VoucherBatch],
    fallbacks: Sequence[Benefit] | None,
    errors: Errors,
) -> None:
    kind = benefit.kind
    if sources and kind == Benefit.Kind.PACK:
        _add(errors, "sources", _("A pack holds items, not sources: remove its sources."))
        return
    if sources and kind == Benefit.Kind.PRIVILEGE:
        _add(errors, "sources", _("A privilege has no stock: remove its sources."))
        return
    if kind in BATCH_KIND_FOR and not sources and not fallbacks:
        _add(
            errors,
            "sources",
            _("A %(kind)s needs at least one voucher batch (or a fallback) to grant from.")
            % {"kind": benefit.get_kind_display()},
        )
    wanted = BATCH_KIND_FOR.get(kind)
    seen: set[int] = set()
    for index, batch in enumerate(sources):
        if batch.pk in seen:
            _add(
                errors,
                f"sources.{index}",
                _("Batch %(code)s is already a source of this benefit.") % {"code": batch.code},
            )
        seen.add(batch.pk)
        if wanted and batch.kind != wanted:
            _add(
                errors,
                f"sources.{index}",
                _("Batch %(code)s holds %(batch_kind)s; a %(kind)s takes %(wanted)s batches only.")
                % {
                    "code": batch.code,
                    "batch_kind": batch.get_kind_display(),
                    "kind": benefit.get_kind_display(),
                    "wanted": VoucherBatch.Kind(wanted).label,
                },
            )


def _fallback_rules(benefit: Benefit, fallbacks: Sequence[Benefit], errors: Errors) -> None:
    if fallbacks and benefit.kind == Benefit.Kind.PACK:
        _add(
            errors,
            "fallbacks",
            _("A pack has no fallbacks: each of its items may have its own."),
        )
        return
    seen: set[int] = set()
    for index, fallback in enumerate(fallbacks):
        key = f"fallbacks.{index}"
        if benefit.pk and fallback.pk == benefit.pk:
            _add(errors, key, _("A benefit cannot be its own fallback."))
            continue
        if fallback.pk in seen:
            _add(errors, key, _("%(name)s is already a fallback.") % {"name": fallback.name})
        seen.add(fallback.pk)
        if fallback.kind == Benefit.Kind.PACK:
            _add(
                errors,
                key,
                _("%(name)s is a pack; a fallback must be a single benefit.")
                % {"name": fallback.name},
            )
        elif fallback.kind in _NEEDS_INPUT and fallback.kind != benefit.kind:
            _add(
                errors,
                key,
                _("%(name)s is a %(kind)s: it can stand in only for a benefit of the same kind.")
                % {"name": fallback.name, "kind": fallback.get_kind_display()},
            )


def _item_rules(benefit: Benefit, items: Sequence[Benefit], errors: Errors) -> None:
    if benefit.kind != Benefit.Kind.PACK:
        if items:
            _add(errors, "items", _("Only a pack holds items: remove them or make this a pack."))
        return
    if not items:
        _add(errors, "items", _("A pack needs at least one item."))
    seen: set[int] = set()
    for index, item in enumerate(items):
        key = f"items.{index}"
        if benefit.pk and item.pk == benefit.pk:
            _add(errors, key, _("A pack cannot hold itself."))
            continue
        if item.pk in seen:
            _add(
                errors,
                key,
                _("%(name)s is already in the pack; raise its quantity instead.")
                % {"name": item.name},
            )
        seen.add(item.pk)
        if item.kind == Benefit.Kind.PACK:
            _add(
                errors,
                key,
                _("%(name)s is a pack; a pack cannot hold another pack.") % {"name": item.name},
            )
