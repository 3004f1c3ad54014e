"""The benefits API's two hot answers, built by hand: a member's entitlements page
(~50 holdings, ~20 claimable benefits) and the answer to a grant. Rendered field by
field through the serializers in `serializers.py` they cost more than all their queries
together (bench/entitlements.py); these functions build the very same documents, and
tests hold each equal to its documented serializer."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from .models import Benefit, Grant
from .services.grants import grant_account


def mask_account(account: str) -> str:
    """A top-up account (a phone number, a game id) with its middle hidden."""
    if len(account) >= 8:
        return f"{account[:3]}****{account[-4:]}"
    return f"{account[:1]}***"


# --- the entitlements page ---------------------------------------------------------------


def datetime_text(value: dt.datetime | None, tz: dt.tzinfo | None = None) -> str | None:
    """What DRF's DateTimeField answers: ISO 8601 in the current time zone (`tz`, when
    the caller renders many: looking the zone up costs more than the formatting)."""
    if not value:
        return None
    text = value.astimezone(tz or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _money(value) -> str | None:
    """A decimal with its two places, as the serializers' DecimalFields answer it (the columns
    hold two places, so nothing is rounded here)."""
    return None if value is None else f"{value:.2f}"


def _brief(benefit) -> dict:
    return {
        "code": benefit.code,
        "name": benefit.name,
        "kind": benefit.kind,
        "face_value": _money(benefit.face_value),
        "currency": benefit.currency,
        "description": benefit.description,
        "image_url": benefit.image_url,
    }


def usable_until(holding) -> dt.datetime | None:
    ends = [at for at in (holding.expires_at, holding.valid_until) if at]
    return min(ends) if ends else None


def _holding(holding, external_id: str, tz: dt.tzinfo) -> dict:
    face_value = _money(holding.face_value)
    valid_from = datetime_text(holding.valid_from, tz)
    return {
        "serial": holding.serial,
        "batch": holding.batch,
        "kind": holding.kind,
        "status": holding.status,
        "member": external_id,
        "value_type": holding.value_type,
        "face_value": face_value,
        "currency": holding.currency,
        "valid_from": valid_from,
        "valid_until": datetime_text(holding.valid_until, tz),
        "expires_at": datetime_text(holding.expires_at, tz),
        "claimed_at": datetime_text(holding.claimed_at, tz),
        "redeemed_at": datetime_text(holding.redeemed_at, tz),
        "channel": holding.channel,
        "benefit": holding.benefit,
        "usable_now": holding.usable_now,
        "not_usable_because": holding.not_usable_because,
        "rules": {
            "value_type": holding.value_type,
            "face_value": face_value,
            "percent_off": _money(holding.percent_off),
            "max_discount": _money(holding.max_discount),
            "min_order_amount": _money(holding.min_order_amount),
            "currency": holding.currency,
            "valid_from": valid_from,
            "valid_until": datetime_text(usable_until(holding), tz),
        },
    }


def entitlements_data(entitlements) -> dict:
    """`EntitlementsOutput(entitlements).data`, built directly."""
    member = entitlements.member
    tz = timezone.get_current_timezone()
    return {
        "member": member.external_id,
        "tier": member.tier.code if member.tier_id else None,
        "points": member.points,
        "holdings": [_holding(v, member.external_id, tz) for v in entitlements.holdings],
        "claimable": [
            {
                "benefit": _brief(one.benefit),
                "via": one.via,
                "quota": (
                    {
                        "period": one.quota.period,
                        "limit": one.quota.limit,
                        "used": one.quota.used,
                        "resets_at": datetime_text(one.quota.resets_at, tz),
                    }
                    if one.quota
                    else None
                ),
                "points_price": one.points_price,
            }
            for one in entitlements.claimable
        ],
        "privileges": [
            {
                "benefit": _brief(one.benefit),
                "valid_until": datetime_text(one.valid_until, tz),
            }
            for one in entitlements.privileges
        ],
    }


# --- the answer to a grant --------------------------------------------------------------


def _voucher(voucher) -> dict:
    batch = voucher.batch
    value = voucher.face_value if voucher.face_value is not None else batch.face_value
    return {
        "serial": voucher.serial,
        "batch": batch.code,
        "kind": batch.kind,
        "status": voucher.status,
        "member": voucher.member.external_id if voucher.member_id else None,
        "value_type": batch.value_type,
        "face_value": _money(value),
        "currency": batch.currency,
        "valid_from": datetime_text(batch.valid_from),
        "valid_until": datetime_text(batch.valid_until),
        "expires_at": datetime_text(voucher.expires_at),
        "claimed_at": datetime_text(voucher.claimed_at),
        "redeemed_at": datetime_text(voucher.redeemed_at),
        "channel": voucher.channel,
    }


def grant_created_context(result, children: list[Grant]) -> dict:
    """What the answer to a grant shows beyond the grant row: the codes handed out
    (voucher id -> code, from the service's result), each grant's vouchers, a pack's
    children (read back with their vouchers)."""
    vouchers: dict[int, list] = {
        child.pk: [row.voucher for row in child.grant_vouchers.all()] for child in children
    }
    if not children:
        vouchers[result.grant.pk] = [unit.voucher for unit in result.taken]
    return {
        "codes": {unit.voucher.pk: unit.code for unit in result.taken},
        "vouchers": vouchers,
        "children": {result.grant.pk: children},
    }


def grant_created_data(grant: Grant, context: dict) -> dict:
    """`GrantCreatedOutput(grant, context=context).data`, built directly."""
    codes = context["codes"]
    topup = None
    if grant.benefit.kind == Benefit.Kind.DIRECT_TOPUP and grant.account_sealed is not None:
        topup = {
            "status": grant.status,
            "supplier": None,
            "account": mask_account(grant_account(grant)),
        }
    fulfilment = None
    if grant.fulfilment:
        fulfilment = {
            "status": grant.fulfilment,
            "tracking_number": grant.tracking_number,
            "shipped_at": datetime_text(grant.shipped_at),
            "delivered_at": datetime_text(grant.delivered_at),
        }
    return {
        "id": str(grant.uid),
        "benefit": grant.benefit.code,
        "member": grant.member.external_id,
        "via": grant.via,
        "status": grant.status,
        "channel": grant.channel,
        "quantity": grant.quantity,
        "vouchers": [
            {"voucher": _voucher(voucher), "code": codes[voucher.pk]}
            for voucher in context["vouchers"].get(grant.pk, [])
        ],
        "topup": topup,
        "fulfilment": fulfilment,
        "substituted_from": grant.substituted_from.code if grant.substituted_from_id else None,
        "points_spent": grant.points_spent,
        "valid_until": datetime_text(grant.valid_until),
        "children": [
            grant_created_data(child, context) for child in context["children"].get(grant.pk, [])
        ],
        "created_at": datetime_text(grant.created_at),
        "fulfilled_at": datetime_text(grant.fulfilled_at),
        "failure": grant.failure or None,
    }
