"""Redemption writes: stores and staff, redeeming, the clerk's check (it counts failed
guesses), reversing."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from members.selectors import member_phone_masked
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from riskcontrol.core.text import text_field_errors
from riskcontrol.rules.guessing import guess_failure_record, guess_keys, guess_limit_check
from vouchers.locks import (
    voucher_for_update,
    voucher_for_update_by_code,
    voucher_for_update_by_serial,
)
from vouchers.models import Voucher, VoucherBatch
from vouchers.rules import voucher_face_value
from vouchers.selectors import voucher_by_id, voucher_id_by_code
from vouchers.services import voucher_mark_redeemed, voucher_mark_unredeemed

from .errors import AlreadyReversed, ReversalWindowPassed
from .models import BatchRedemptionRule, Redemption, Store, StoreStaff
from .presentations import is_token, presentation_voucher_id
from .rules import (
    check_rules,
    check_voucher_redeemable,
    discount_for,
    format_windows,
    minimum_order,
)

# --- Stores ------------------------------------------------------------------------------


_STORE_FIELDS = ("name", "address", "group", "active")


def _store_snapshot(store: Store) -> dict:
    return {field: getattr(store, field) for field in _STORE_FIELDS}


def _store_values(*, name: str, address: str, group: str, active: bool) -> dict:
    if not name.strip():
        raise ValidationFailed({"name": [_("This field is required.")]})
    refused = text_field_errors(free_text={"name": name, "address": address, "group": group})
    if refused:
        raise ValidationFailed(refused)
    return {
        "name": name.strip(),
        "address": address.strip(),
        "group": group.strip(),
        "active": active,
    }


@transaction.atomic
def store_upsert(
    *,
    code: str,
    name: str,
    address: str = "",
    group: str = "",
    active: bool = True,
    actor: Actor | None = None,
) -> tuple[Store, bool]:
    """Create or update the store with `code` (partner ERP/POS keep the list in sync).
    Locks the store row when it exists; the unique code decides between two racing
    creates. Writes an audit event with the actor (the system when none is given)."""
    code = code.strip()
    if not code or not name.strip():
        raise ValidationFailed(
            {
                field: [_("This field is required.")]
                for field, value in (("code", code), ("name", name.strip()))
                if not value
            }
        )
    refused = text_field_errors(
        identifiers={"code": code},
        max_lengths={"code": Store._meta.get_field("code").max_length},
    )
    if refused:
        raise ValidationFailed(refused)
    values = _store_values(name=name, address=address, group=group, active=active)
    store = Store.objects.select_for_update().filter(code=code).first()
    created = False
    if store is None:
        try:
            with transaction.atomic():
                store, created = Store.objects.create(code=code, **values), True
        except IntegrityError:  # a concurrent create of the same code won; update it
            store = Store.objects.select_for_update().get(code=code)
    if created:
        audit_record(
            subject=store,
            action="create",
            actor=actor or Actor.system(),
            changes=audit_changes({}, _store_snapshot(store)),
            label=store.code,
        )
        return store, True
    return _store_apply(store, values, actor or Actor.system()), False


@transaction.atomic
def store_update(
    *, store: Store, name: str, address: str, group: str, active: bool, actor: Actor
) -> Store:
    """Change a store's name, address, group or active flag (its code, which partner
    systems and keys refer to, stays). Locks the store row; audited."""
    values = _store_values(name=name, address=address, group=group, active=active)
    return _store_apply(Store.objects.select_for_update().get(pk=store.pk), values, actor)


def _store_apply(store: Store, values: dict, actor: Actor) -> Store:
    before = _store_snapshot(store)
    for field, value in values.items():
        setattr(store, field, value)
    changes = audit_changes(before, _store_snapshot(store))
    if changes:
        store.save()
        audit_record(subject=store, action="update", actor=actor, changes=changes, label=store.code)
    return store


@transaction.atomic
def store_delete(*, store: Store, actor: Actor) -> None:
    """Delete a store that has no redemptions (the database refuses otherwise: they are
    settled against it); its staff assignments go with it. Audited."""
    audit_record(
        subject=store,
        action="delete",
        actor=actor,
        changes={
            field: {"from": value, "to": None} for field, value in _store_snapshot(store).items()
        },
        label=store.code,
    )
    store.delete()


# --- Store staff -------------------------------------------------------------------------


def _staff_label(staff: StoreStaff) -> str:
    return f"{staff.user.get_username()} @ {staff.store.code}"


def _duplicate_staff() -> ValidationFailed:
    return ValidationFailed({"user": [_("This user is already on the staff of this store.")]})


@transaction.atomic
def store_staff_assign(*, store: Store, user: Any, role: str, actor: Actor) -> StoreStaff:
    """Put a user on a store's staff with a role (unique per user and store). Audited."""
    if role not in StoreStaff.Role.values:
        raise ValidationFailed({"role": [_("Unknown role: %(role)s") % {"role": role}]})
    try:
        with transaction.atomic():
            staff = StoreStaff.objects.create(store=store, user=user, role=role)
    except IntegrityError:
        raise _duplicate_staff() from None
    audit_record(
        subject=staff,
        action="create",
        actor=actor,
        changes={
            "user": {"from": None, "to": user.get_username()},
            "role": {"from": None, "to": role},
        },
        label=_staff_label(staff),
    )
    return staff


@transaction.atomic
def store_staff_update(
    *, staff: StoreStaff, store: Store, user: Any, role: str, actor: Actor
) -> StoreStaff:
    """Change who, where or in which role a staff assignment is. Locks the row; audited."""
    if role not in StoreStaff.Role.values:
        raise ValidationFailed({"role": [_("Unknown role: %(role)s") % {"role": role}]})
    locked = StoreStaff.objects.select_for_update().select_related("user", "store").get(pk=staff.pk)
    before = {"user": locked.user.get_username(), "store": locked.store.code, "role": locked.role}
    after = {"user": user.get_username(), "store": store.code, "role": role}
    changes = audit_changes(before, after)
    if not changes:
        return locked
    locked.user, locked.store, locked.role = user, store, role
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError:
        raise _duplicate_staff() from None
    audit_record(
        subject=locked, action="update", actor=actor, changes=changes, label=_staff_label(locked)
    )
    return locked


@transaction.atomic
def store_staff_remove(*, staff: StoreStaff, actor: Actor) -> None:
    """Take a user off a store's staff. Audited."""
    audit_record(
        subject=staff,
        action="delete",
        actor=actor,
        changes={"user": {"from": staff.user.get_username(), "to": None}},
        label=_staff_label(staff),
    )
    staff.delete()


# --- Redeeming ---------------------------------------------------------------------------


_FRESH = "redemption_store_unchanged"


def _no_active_store() -> NotFound:
    return NotFound(_("No active store with this code."))


def _rule_of(batch: VoucherBatch) -> BatchRedemptionRule | None:
    try:
        return batch.redemption_rule
    except BatchRedemptionRule.DoesNotExist:
        return None


# The store of a redemption, cached per process: stores change rarely, and looking one up
# was a tenth of a redemption's time. A cached row is never trusted for a redemption: the
# statement that locks the voucher also checks that the store is still active with the
# same code, name and group (`_store_unchanged`), and a failed lookup asks the database
# again before counting a guess; either way a changed store is fetched afresh. What a
# stale entry can change, for at most STORE_CACHE_SECONDS after a store is deactivated,
# is which error comes first: a request that is over its guessing limit or carries an
# expired token gets that error rather than "no active store". Only active stores are
# cached, so a store that is activated is seen at once.
STORE_CACHE_SECONDS = 10.0
_STORE_CACHE_SIZE = 1024
_stores: dict[str, tuple[float, Store]] = {}


def _store_fetch(code: str) -> Store | None:
    store = Store.objects.filter(code=code, active=True).first()
    if store is None:
        _stores.pop(code, None)
        return None
    if len(_stores) >= _STORE_CACHE_SIZE:
        _stores.clear()
    _stores[code] = (time.monotonic() + STORE_CACHE_SECONDS, store)
    return store


def _active_store(code: str) -> tuple[Store | None, bool]:
    """The active store with this code and whether it came from the cache."""
    cached = _stores.get(code)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1], True
    return _store_fetch(code), False


def _store_unchanged(store: Store) -> RawSQL:
    """True while the store row is still what was cached (RawSQL: see vouchers.locks)."""
    meta = Store._meta
    quote = connection.ops.quote_name
    columns = [quote(meta.get_field(name).column) for name in ("id", "code", "name", "group")]
    return RawSQL(  # noqa: S611 (names from the model, values as parameters)
        f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} WHERE "  # noqa: S608 (names only)
        + " AND ".join(f"{column} = %s" for column in columns)
        + f" AND {quote(meta.get_field('active').column)})",
        (store.pk, store.code, store.name, store.group),
        output_field=BooleanField(),
    )


def redemption_create(
    *,
    store_code: str,
    actor: Actor,
    code: str | None = None,
    token: str | None = None,
    serial: str | None = None,
    order_ref: str = "",
    order_amount: Decimal | None = None,
    bound_store_code: str = "",
) -> Redemption:
    """Redeem one voucher, named by its code, a presentation token or (trusted POS) its
    serial, at a store.

    Unknown codes and bad tokens count towards the guessing limit of the clerk, the store
    and the partner client; the count is written outside the redemption's transaction.
    Locks the voucher row; a voucher has at most one completed redemption (a unique
    constraint), so a racing second call finds it redeemed and fails cleanly.
    """
    given = [
        name for name, value in (("code", code), ("token", token), ("serial", serial)) if value
    ]
    if len(given) != 1:
        raise ValidationFailed(
            {"non_field_errors": [_("Give exactly one of code, token or serial.")]}
        )
    store, cached = _active_store(store_code)
    if store is None:
        raise _no_active_store()
    if bound_store_code and bound_store_code != store.code:
        raise PermissionDenied(
            _("This key can redeem only at store %(code)s.") % {"code": bound_store_code}
        )

    keys = guess_keys(user_id=actor.user_id, store_id=store.pk, client_id=actor.partner_client_id)
    guess_limit_check(keys)
    method = (
        Redemption.Method.CODE
        if code
        else Redemption.Method.TOKEN
        if token
        else Redemption.Method.SERIAL
    )
    voucher_id = presentation_voucher_id(token) if token else None  # may raise TokenExpired
    with transaction.atomic():
        found = {
            "related": ("batch__redemption_rule",),
            "annotate": {_FRESH: _store_unchanged(store)},
        }
        if code:
            voucher = voucher_for_update_by_code(code, **found)
        elif serial:
            voucher = voucher_for_update_by_serial(serial, **found)
        else:
            voucher = voucher_for_update(pk=voucher_id, **found) if voucher_id else None
        if voucher is not None:
            if not getattr(voucher, _FRESH):  # the cached store changed: ask again
                store = _store_fetch(store_code)
                if store is None:
                    raise _no_active_store()
            return _redeem_locked(
                voucher=voucher,
                store=store,
                method=method,
                order_ref=order_ref,
                order_amount=order_amount,
                actor=actor,
            )
    if cached:  # a guess is counted only at an active store, as it is without the cache
        store = _store_fetch(store_code)
        if store is None:
            raise _no_active_store()
        keys = guess_keys(
            user_id=actor.user_id, store_id=store.pk, client_id=actor.partner_client_id
        )
    # Counted after the (empty) transaction, so a rollback cannot undo the count.
    if method != Redemption.Method.SERIAL:
        guess_failure_record(keys, actor_label=actor.label)
    raise NotFound(_("No voucher has this code.") if method == Redemption.Method.CODE else None)


def _redeem_locked(
    *,
    voucher: Voucher,
    store: Store,
    method: str,
    order_ref: str,
    order_amount: Decimal | None,
    actor: Actor,
) -> Redemption:
    batch = voucher.batch
    now = timezone.now()
    check_voucher_redeemable(voucher, batch, now)
    rule = _rule_of(batch)
    check_rules(batch=batch, rule=rule, store=store, at=now, order_amount=order_amount)
    discount = discount_for(batch=batch, voucher=voucher, order_amount=order_amount)
    redemption = Redemption(
        voucher=voucher,
        batch=batch,
        store=store,
        method=method,
        order_ref=order_ref,
        order_amount=order_amount,
        discount_amount=discount,
        currency=batch.currency,
        voucher_status_before=voucher.status,
        actor_label=actor.label,
        user_id=actor.user_id,
        partner_client_id=actor.partner_client_id,
        redeemed_at=now,
    )
    # The voucher's UPDATE, its event and the redemption: one statement.
    voucher_mark_redeemed(
        voucher=voucher,
        actor=actor,
        at=now,
        context={"store": store.code, "order_ref": order_ref, "method": method},
        record=redemption,
    )
    return redemption


# --- Checking (the clerk's "Check" button) -------------------------------------------------


@dataclass
class Preview:
    voucher: Voucher
    member_masked: str
    value_text: str
    minimum: str
    windows: str
    refusal: DomainError | None
    # The order amount decides whether or how much it redeems (a minimum order, or a
    # percentage off): the clerk is asked for it before redeeming.
    needs_order_amount: bool = False


def _value_text(voucher: Voucher) -> str:
    batch = voucher.batch
    if batch.value_type == batch.ValueType.PERCENT:
        off = f"{batch.percent_off.normalize():f}"  # 20.00 -> "20", 12.50 -> "12.5"
        if batch.max_discount:
            return _("%(off)s%% off, at most %(max)s %(currency)s") % {
                "off": off,
                "max": batch.max_discount,
                "currency": batch.currency,
            }
        return _("%(off)s%% off") % {"off": off}
    return f"{voucher_face_value(voucher, batch)} {batch.currency}"


def redemption_preview(
    *, store: Store, actor: Actor, text: str, order_amount: Decimal | None = None
) -> Preview:
    """What the clerk sees on "Check": the voucher and whether it can be redeemed here now
    (for `order_amount` when the clerk has typed one, else at its minimum order).
    Changes no voucher; an unknown code or bad token counts towards the guessing limit,
    as when redeeming (a write, hence a service). No transaction on purpose: the count is
    written in its own short transaction (or in Redis), like `redemption_create`'s."""
    keys = guess_keys(user_id=actor.user_id, store_id=store.pk, client_id=actor.partner_client_id)
    guess_limit_check(keys)
    voucher_id = presentation_voucher_id(text) if is_token(text) else voucher_id_by_code(text)
    voucher = voucher_by_id(pk=voucher_id) if voucher_id else None
    if voucher is None:
        guess_failure_record(keys, actor_label=actor.label)
        raise NotFound()
    rule = BatchRedemptionRule.objects.filter(batch=voucher.batch).first()
    minimum = minimum_order(voucher.batch, rule)
    refusal = None
    try:
        now = timezone.now()
        check_voucher_redeemable(voucher, voucher.batch, now)
        check_rules(
            batch=voucher.batch,
            rule=rule,
            store=store,
            at=now,
            order_amount=minimum if order_amount is None else order_amount,
        )
        if voucher.batch.value_type != voucher.batch.ValueType.PERCENT:
            discount_for(batch=voucher.batch, voucher=voucher, order_amount=None)
    except DomainError as error:
        refusal = error
    return Preview(
        voucher=voucher,
        member_masked=(
            member_phone_masked(voucher.member) or voucher.member.external_id[:3] + "***"
        )
        if voucher.member
        else "",
        value_text=_value_text(voucher),
        minimum=f"{minimum} {voucher.batch.currency}" if minimum is not None else "",
        windows=format_windows(rule.windows) if rule and rule.windows else "",
        refusal=refusal,
        needs_order_amount=minimum is not None
        or voucher.batch.value_type == VoucherBatch.ValueType.PERCENT,
    )


# --- Reversing ---------------------------------------------------------------------------


def redemption_reverse(
    *, redemption_id: int, actor: Actor, reason: str = "", bound_store_code: str = ""
) -> Redemption:
    """Undo a redemption within the reversal window: the voucher goes back to the status
    it had (claimed, or available for an unclaimed printed code; a card secret that was
    never claimed goes to void). Locks the voucher, then the redemption — the same order
    as redeeming, so the two cannot deadlock."""
    found = Redemption.objects.filter(pk=redemption_id).select_related("store").first()
    if found is None or (bound_store_code and found.store.code != bound_store_code):
        raise NotFound(_("No redemption with this id."))
    with transaction.atomic():
        voucher = voucher_for_update(pk=found.voucher_id)
        redemption = Redemption.objects.select_for_update().get(pk=redemption_id)
        if redemption.status == Redemption.Status.REVERSED:
            raise AlreadyReversed(reversed_at=redemption.reversed_at.isoformat())
        now = timezone.now()
        window = dt.timedelta(hours=settings.REDEMPTION_REVERSAL_WINDOW_HOURS)
        if now > redemption.redeemed_at + window:
            raise ReversalWindowPassed(
                _("Redemptions can be reversed within %(hours)d hours.")
                % {"hours": settings.REDEMPTION_REVERSAL_WINDOW_HOURS}
            )
        voucher_mark_unredeemed(
            voucher=voucher,
            to_status=redemption.voucher_status_before,
            actor=actor,
            context={"redemption": redemption.pk, "reason": reason},
        )
        redemption.status = Redemption.Status.REVERSED
        redemption.reversed_at = now
        redemption.reversal_reason = reason[:255]
        redemption.reversed_by = actor.label
        redemption.save(update_fields=["status", "reversed_at", "reversal_reason", "reversed_by"])
        return redemption
