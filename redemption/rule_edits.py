"""Setting and removing a batch's redemption rule (where, when, from what order amount).

The redemption app owns the rule (`BatchRedemptionRule` → batch); the console edits it on
the batch page through these services, which check it and write an audit event.
Reading and applying the rule at the till lives in `rules.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import ValidationFailed
from vouchers.models import VoucherBatch

from .models import BatchRedemptionRule, Store
from .rules import WindowSyntaxError, format_windows, parse_windows

Scope = BatchRedemptionRule.StoreScope


def _windows_in_english(windows: list[dict]) -> str:
    with translation.override("en"):
        return format_windows(windows)


def _snapshot(rule: BatchRedemptionRule | None) -> dict:
    if rule is None:
        return {}
    return {
        "store_scope": rule.store_scope,
        "stores": sorted(rule.stores.values_list("code", flat=True)),
        "store_groups": list(rule.store_groups),
        # Audit rows read the same whoever made the change: windows in English.
        "windows": _windows_in_english(rule.windows),
        "min_order_amount": rule.min_order_amount,
    }


def batch_redemption_rule_validate(
    *,
    store_scope: str,
    stores: Iterable[Store],
    store_groups: list[str],
    windows: list[dict],
    min_order_amount: Decimal | None,
) -> None:
    """The rules a redemption rule must meet, per field (raises ValidationFailed). The
    console's rule form calls it to show the messages next to the fields."""
    errors: dict[str, list[str]] = {}
    if store_scope not in Scope.values:
        errors["store_scope"] = [_("Unknown store scope: %(scope)s") % {"scope": store_scope}]
    if store_scope == Scope.LISTED and not list(stores):
        errors["stores"] = [_("Choose at least one store, or allow all stores.")]
    if store_scope == Scope.GROUPS and not store_groups:
        errors["store_groups"] = [_("Name at least one store group, or allow all stores.")]
    try:
        parse_windows(format_windows(windows))
    except WindowSyntaxError as error:
        errors["windows"] = [str(error)]
    except (KeyError, TypeError, ValueError, IndexError):
        errors["windows"] = [_("The weekly time windows cannot be read.")]
    if min_order_amount is not None and min_order_amount < 0:
        errors["min_order_amount"] = [_("The minimum order amount cannot be negative.")]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def batch_redemption_rule_set(
    *,
    batch: VoucherBatch,
    store_scope: str,
    stores: Iterable[Store] = (),
    store_groups: list[str] | None = None,
    windows: list[dict] | None = None,
    min_order_amount: Decimal | None = None,
    actor: Actor,
) -> BatchRedemptionRule:
    """Create or replace the batch's redemption rule. Locks the batch row (one rule per
    batch, so two editors queue instead of both creating one); writes an audit event with
    what changed, nothing when nothing changed."""
    stores = list(stores)
    store_groups = [group.strip() for group in store_groups or [] if group.strip()]
    windows = list(windows or [])
    batch_redemption_rule_validate(
        store_scope=store_scope,
        stores=stores,
        store_groups=store_groups,
        windows=windows,
        min_order_amount=min_order_amount,
    )
    VoucherBatch.objects.select_for_update().filter(pk=batch.pk).first()
    rule = BatchRedemptionRule.objects.filter(batch_id=batch.pk).first()
    before = _snapshot(rule)
    created = rule is None
    if rule is None:
        rule = BatchRedemptionRule(batch_id=batch.pk)
    rule.store_scope = store_scope
    rule.store_groups = store_groups
    rule.windows = windows
    rule.min_order_amount = min_order_amount
    rule.save()
    rule.stores.set(stores)
    changes = audit_changes(before, _snapshot(rule))
    if created or changes:
        audit_record(
            subject=rule,
            action="create" if created else "update",
            actor=actor,
            changes=changes,
            label=batch.code,
        )
    return rule


@transaction.atomic
def batch_redemption_rule_remove(*, batch: VoucherBatch, actor: Actor) -> bool:
    """Remove the batch's rule (any store, any time again). Returns whether there was one."""
    VoucherBatch.objects.select_for_update().filter(pk=batch.pk).first()
    rule = BatchRedemptionRule.objects.filter(batch_id=batch.pk).first()
    if rule is None:
        return False
    before = _snapshot(rule)
    audit_record(
        subject=rule,
        action="delete",
        actor=actor,
        changes=audit_changes(before, dict.fromkeys(before)),
        label=batch.code,
    )
    rule.delete()
    return True
