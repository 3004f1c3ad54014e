"""`benefit_grant`: the one path by which a member receives a benefit, whatever the route
(tier matrix, points exchange, campaign, partner API, operator, automation).

In one transaction, under the member's row lock (taken first, so one member's grants
queue up and every lock is taken in the same order: member, quota counter, benefit
budget, voucher), with the benefit, its sources and their batches read after the lock
(`reads.benefit_with_sources`, one statement):
1. the benefit is active now, offered in the member's region, and the member qualifies
   (the route: a tier benefit needs a matrix row for the member's tier; a points
   exchange needs a points price; a segment-only benefit needs the member in it);
2. quota (the matrix row's, or the benefit's exchange limit) — one conditional upsert;
3. points (an exchange spends the price through the members' points service);
4. budget — one conditional UPDATE;
5. fulfilment: from the first source with stock; when all are empty, the first
   equivalent fallback (通兑) with stock, recorded as `substituted_from`; a pack grants
   every item (child grants) or nothing.
Any refusal rolls the attempt back (its savepoint: no quota, points, budget or voucher
is used) and is recorded as a `failed` grant with its code, then raised.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Tier
from members.services import InsufficientPoints, points_spend
from members.services.points import member_lock
from members.services.segments import segment_members
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.transactions import joined_transaction
from riskcontrol.crypto import codec

from ..errors import (
    BenefitInactive,
    GrantRefused,
    NotEligible,
    OutOfStock,
    RegionUnavailable,
)
from ..models import Benefit, BenefitSource, Grant, GrantVoucher, QuotaUse, TierBenefit
from ..sources import SourceLimit, Taken, source_for
from .quotas import budget_charge, quota_take, units_take
from .reads import benefit_with_sources

MAX_ADDRESS = 300
MAX_ACCOUNT = 64


@dataclass
class GrantResult:
    grant: Grant
    taken: list[Taken] = field(default_factory=list)  # codes: for the caller's response only
    created: bool = True


def _aad(grant_uid: uuid.UUID, what: str) -> bytes:
    return f"grant:{grant_uid}:{what}".encode()


def grant_address(grant: Grant) -> str:
    return codec().decrypt(grant.address_sealed, aad=_aad(grant.uid, "address"))


def grant_account(grant: Grant) -> str:
    return codec().decrypt(grant.account_sealed, aad=_aad(grant.uid, "account"))


def benefit_get(code: str) -> Benefit:
    benefit = Benefit.objects.filter(code=code).first()
    if benefit is None:
        raise NotFound(_("No benefit with this code."))
    return benefit


def _validate_inputs(benefit: Benefit, via: str, account: str, address: str) -> None:
    errors: dict[str, list[str]] = {}
    if via not in Grant.Via.values:
        errors["via"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(Grant.Via.values)}
        ]
    needs = {benefit.kind}
    if benefit.kind == Benefit.Kind.PACK:
        needs |= set(benefit.items.values_list("item__kind", flat=True))
    if Benefit.Kind.DIRECT_TOPUP in needs:
        if not account:
            errors["account"] = [_("A direct top-up needs the account to top up.")]
        elif len(account) > MAX_ACCOUNT:
            errors["account"] = [_("Keep the account under %(n)d characters.") % {"n": MAX_ACCOUNT}]
    if Benefit.Kind.PHYSICAL in needs:
        if not address:
            errors["address"] = [_("A physical gift needs a delivery address.")]
        elif len(address) > MAX_ADDRESS:
            errors["address"] = [_("Keep the address under %(n)d characters.") % {"n": MAX_ADDRESS}]
    if errors:
        raise ValidationFailed(errors)


def benefit_grant(
    *,
    member: Member | str,
    benefit: Benefit | str,
    via: str,
    actor: Actor,
    channel: str = "",
    account: str = "",
    address: str = "",
    occasion: str = "",
    dedupe_key: str | None = None,
    context: dict | None = None,
    now: dt.datetime | None = None,
    tier: Tier | None = None,
) -> GrantResult:
    """Grant `benefit` to `member` through route `via`. Returns the grant (fulfilled or
    pending) and the units taken; raises a `GrantRefused` (or `InsufficientPoints`)
    after recording a failed grant. With `dedupe_key` (an upgrade, a period start, an
    automation firing) a second call finds the first grant and changes nothing.
    `tier` (tier route only): the tier whose matrix row applies, when it is not the
    member's tier now — an `on_upgrade` grant is for the tier the upgrade reached, which
    the member may have left again by the time the grant runs. `context` is the end
    user's own address and device as a partner saw them (API.md, "End-user context");
    it is kept with the grant's actor stamp."""
    account = (account or "").strip()
    address = (address or "").strip()
    occasion = occasion or ("claim" if via == Grant.Via.TIER else "")
    stamp = Grant.actor_stamp(actor, extra={"end_user": context} if context else None)
    refusal: Exception | None = None
    # Nothing is written here before the attempt's savepoint, so inside a caller's
    # transaction (the partner API's idempotent request) no savepoint of its own.
    with joined_transaction():
        locked = member_lock(member)
        now = now or timezone.now()
        if dedupe_key:
            first = Grant.objects.filter(dedupe_key=dedupe_key).first()
            if first is not None:
                return GrantResult(grant=first, created=False)
        # Read after the lock: what the grant before this one left (budget, batches).
        benefit, sources = benefit_with_sources(benefit)
        _validate_inputs(benefit, via, account, address)
        grant = Grant(
            uid=uuid.uuid4(),
            member=locked,
            benefit=benefit,
            via=via,
            occasion=occasion,
            channel=channel[:32],
            dedupe_key=dedupe_key,
            **stamp,
        )
        try:
            with transaction.atomic():
                taken = _attempt(
                    grant,
                    benefit,
                    sources=sources,
                    member=locked,
                    account=account,
                    address=address,
                    now=now,
                    tier=tier,
                )
                return GrantResult(grant=grant, taken=taken)
        except IntegrityError:
            # A concurrent call with the same dedupe key won (the member lock makes this
            # rare: only a caller that locked a different member row could race).
            first = Grant.objects.filter(dedupe_key=dedupe_key).first() if dedupe_key else None
            if first is None:
                raise
            return GrantResult(grant=first, created=False)
        except (GrantRefused, InsufficientPoints) as error:
            refusal = error
            Grant.objects.create(
                uid=grant.uid,
                member=locked,
                benefit=benefit,
                via=via,
                occasion=occasion,
                channel=grant.channel,
                status=Grant.Status.FAILED,
                failure=error.code,
                failure_detail=str(error.detail)[:255],
                **stamp,
            )
    raise refusal


def _attempt(
    grant: Grant,
    benefit: Benefit,
    *,
    sources: list[BenefitSource],
    member: Member,
    account: str,
    address: str,
    now,
    tier: Tier | None = None,
) -> list[Taken]:
    _check_offer(benefit, member, now)
    via = grant.via
    if via == Grant.Via.TIER:
        row = _tier_row(member, benefit, grant.occasion, tier=tier)
        grant.quota_scope = QuotaUse.Scope.TIER
        grant.quota_period_start = quota_take(
            member=member,
            benefit=benefit,
            scope=QuotaUse.Scope.TIER,
            limit=row.quota,
            period=row.period,
            now=now,
        )
    elif via == Grant.Via.POINTS:
        if benefit.points_price is None:
            raise NotEligible(
                _("%(code)s cannot be exchanged for points.") % {"code": benefit.code}
            )
        if benefit.exchange_limit:
            grant.quota_scope = QuotaUse.Scope.POINTS
            grant.quota_period_start = quota_take(
                member=member,
                benefit=benefit,
                scope=QuotaUse.Scope.POINTS,
                limit=benefit.exchange_limit,
                period=benefit.exchange_period,
                now=now,
            )
        points_spend(
            member=member,
            amount=benefit.points_price,
            reason=_("Exchanged for %(name)s") % {"name": benefit.name},
            ref=f"grant:{grant.uid}",
            actor=_actor_of(grant),
            now=now,
        )
        grant.points_spent = benefit.points_price
    budget_charge(benefit=benefit, cost=benefit.cost)
    grant.cost = benefit.cost
    if address:
        grant.address_sealed = codec().encrypt(address, aad=_aad(grant.uid, "address"))
    if account:
        grant.account_sealed = codec().encrypt(account, aad=_aad(grant.uid, "account"))
    if benefit.kind == Benefit.Kind.PACK:
        grant.status = Grant.Status.FULFILLED
        grant.save()  # the children point at it
        return _fulfil_pack(grant, benefit, member=member, now=now)
    return _fulfil(grant, benefit, member=member, quantity=1, now=now, sources=sources)


def _actor_of(grant: Grant) -> Actor:
    return Actor(
        kind=grant.actor_kind,
        label=grant.actor_label,
        user_id=grant.user_id,
        partner_client_id=grant.partner_client_id,
    )


def _check_offer(benefit: Benefit, member: Member, now: dt.datetime) -> None:
    if not benefit.is_active_at(now):
        raise BenefitInactive(_("%(code)s is not active now.") % {"code": benefit.code})
    if benefit.region and member.region != benefit.region:
        raise RegionUnavailable(
            _("%(code)s is offered only in region %(region)s.")
            % {"code": benefit.code, "region": benefit.region}
        )
    if (
        benefit.segment_id
        and not segment_members(benefit.segment, now=now).filter(pk=member.pk).exists()
    ):
        raise NotEligible(
            _("%(code)s is only for the segment %(segment)s.")
            % {"code": benefit.code, "segment": benefit.segment.name}
        )


def _tier_row(
    member: Member, benefit: Benefit, occasion: str, *, tier: Tier | None = None
) -> TierBenefit:
    mode = {
        "claim": TierBenefit.Mode.CLAIMABLE,
        "on_upgrade": TierBenefit.Mode.ON_UPGRADE,
        "each_period": TierBenefit.Mode.EACH_PERIOD,
    }.get(occasion, TierBenefit.Mode.CLAIMABLE)
    tier_id = tier.pk if tier is not None else member.tier_id
    row = TierBenefit.objects.filter(tier_id=tier_id, benefit=benefit, mode=mode).first()
    if row is None:
        held = tier or member.tier
        name = held.name if held is not None else _("no tier")
        raise NotEligible(
            _("%(code)s is not a benefit of %(tier)s.") % {"code": benefit.code, "tier": name}
        )
    return row


def _fulfil_pack(grant: Grant, pack: Benefit, *, member: Member, now) -> list[Taken]:
    """Every item or nothing: a refused item raises, and the caller's savepoint undoes
    the items granted before it. The items' rows that the grant will write (a budget,
    own units) are locked first, in primary-key order, so two packs sharing items in a
    different order cannot deadlock."""
    taken: list[Taken] = []
    items = list(pack.items.select_related("item").order_by("position", "id"))
    counted = sorted(
        {
            item.item_id
            for item in items
            if item.item.budget is not None or item.item.units_left is not None
        }
    )
    if counted:
        list(Benefit.objects.select_for_update().filter(pk__in=counted).order_by("pk").values("pk"))
    for item in items:
        child = Grant(
            uid=uuid.uuid4(),
            member=member,
            benefit=item.item,
            parent=grant,
            via=grant.via,
            occasion=grant.occasion,
            channel=grant.channel,
            status=Grant.Status.FULFILLED,
            quantity=item.quantity,
            address_sealed=grant.address_sealed,
            account_sealed=grant.account_sealed,
            actor_kind=grant.actor_kind,
            actor_label=grant.actor_label,
            user_id=grant.user_id,
            partner_client_id=grant.partner_client_id,
            context=grant.context,
        )
        try:
            _check_offer(item.item, member, now)
            budget_charge(benefit=item.item, cost=item.item.cost * item.quantity)
        except GrantRefused as error:
            raise type(error)(
                _("Pack item %(code)s: %(detail)s")
                % {"code": item.item.code, "detail": error.detail}
            ) from error
        child.cost = item.item.cost * item.quantity
        try:
            taken += _fulfil(child, item.item, member=member, quantity=item.quantity, now=now)
        except GrantRefused as error:
            raise type(error)(
                _("Pack item %(code)s: %(detail)s")
                % {"code": item.item.code, "detail": error.detail}
            ) from error
    if grant.children.filter(status=Grant.Status.PENDING).exists():
        grant.status = Grant.Status.PENDING
        grant.save(update_fields=["status"])
    else:
        grant.fulfilled_at = now
        grant.save(update_fields=["fulfilled_at"])
    return taken


def _fulfil(
    grant: Grant,
    benefit: Benefit,
    *,
    member: Member,
    quantity: int,
    now,
    sources: list[BenefitSource] | None = None,
) -> list[Taken]:
    """Hand out `quantity` units of `benefit` (or of its first fallback with stock);
    `sources`: the benefit's, when the caller has read them already."""
    if benefit.kind == Benefit.Kind.PACK:
        raise OutOfStock(_("A pack inside a pack is not supported."))
    if benefit.uses_own_units():
        if not units_take(benefit=benefit, quantity=quantity):
            raise OutOfStock(_("%(code)s has no units left.") % {"code": benefit.code})
        return _finish(grant, benefit, [], now)
    taken = _take_from_sources(
        benefit, member=member, quantity=quantity, grant=grant, sources=sources
    )
    if taken is not None:
        return _finish(grant, benefit, taken, now)
    for link in benefit.fallback_links.select_related("fallback").order_by("position", "id"):
        fallback = link.fallback
        if fallback.kind == Benefit.Kind.PACK or not fallback.is_active_at(now):
            continue
        if fallback.region and member.region != fallback.region:
            continue
        taken = _take_from_sources(fallback, member=member, quantity=quantity, grant=grant)
        if taken is not None:
            grant.substituted_from = benefit
            grant.benefit = fallback
            return _finish(grant, fallback, taken, now)
    raise OutOfStock(
        _("%(code)s: no source and no equivalent benefit has stock left.") % {"code": benefit.code}
    )


def _take_from_sources(
    benefit: Benefit,
    *,
    member: Member,
    quantity: int,
    grant: Grant,
    sources: list[BenefitSource] | None = None,
) -> list[Taken] | None:
    """Units from the first source that gives them; None when every source is empty.
    A source that refuses this member by its own limit is skipped; when that is all
    that stood in the way, the member does not qualify (`not_eligible`) — the stock is
    there, so neither `out_of_stock` nor a fallback is right."""
    limited = None
    if sources is None:
        sources = list(benefit.sources.select_related("batch").order_by("position", "id"))
    for source in sources:
        try:
            taken = source_for(source).take(
                source,
                member=member,
                quantity=quantity,
                channel=grant.channel,
                actor=_actor_of(grant),
            )
        except SourceLimit as error:
            limited = error
            continue
        if taken is not None:
            return taken
    if limited is not None:
        raise NotEligible(limited.detail)
    return None


def _finish(grant: Grant, benefit: Benefit, taken: list[Taken], now) -> list[Taken]:
    if benefit.kind == Benefit.Kind.PHYSICAL or benefit.kind == Benefit.Kind.DIRECT_TOPUP:
        grant.status = Grant.Status.PENDING
        grant.fulfilment = Grant.Fulfilment.WAITING if benefit.kind == Benefit.Kind.PHYSICAL else ""
    else:
        grant.status = Grant.Status.FULFILLED
        grant.fulfilled_at = now
    if benefit.kind == Benefit.Kind.PRIVILEGE and benefit.valid_days:
        grant.valid_until = now + dt.timedelta(days=benefit.valid_days)
    grant.save()
    GrantVoucher.objects.bulk_create(
        [GrantVoucher(grant=grant, voucher_id=unit.voucher.pk) for unit in taken]
    )
    return taken
