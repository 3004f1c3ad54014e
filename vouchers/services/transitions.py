"""Voucher transitions: freeze, unfreeze, void (one voucher, a selection, a whole batch,
an import file). Also the set-based machinery expiry and export reuse."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor

from ..errors import InvalidTransition
from ..models import CardStockImport, Voucher, VoucherBatch, VoucherEvent
from .events import _batch_event

# --- Lifecycle -----------------------------------------------------------------------------
#
# Every voucher transition is a conditional UPDATE (WHERE status IN <allowed>) plus one
# VoucherEvent per voucher, applied chunk by chunk of ids: lock the chunk's rows, write
# the events with INSERT ... SELECT, update. Nothing is loaded into Python, so freezing a
# million vouchers is a few statements per 20,000 rows, and a voucher that changed in
# between (claimed, redeemed) is simply not in the allowed set any more.

LIFECYCLE_CHUNK = 20_000
S = Voucher.Status
KEEP_STATUS = "="  # an event that records without changing the status (a reveal)


@dataclass(frozen=True)
class TransitionRule:
    action: str
    from_statuses: tuple[str, ...]
    to_status: str | None  # None: back to the status the voucher had before it was frozen

    def update_values(self) -> dict:
        if self.to_status is None:
            return {"status": models.F("frozen_from"), "frozen_from": ""}
        if self.to_status == S.FROZEN:
            return {"status": S.FROZEN, "frozen_from": models.F("status")}
        return {"status": self.to_status, "frozen_from": ""}


FREEZE = TransitionRule(VoucherEvent.Action.FREEZE, (S.AVAILABLE, S.CLAIMED), S.FROZEN)
UNFREEZE = TransitionRule(VoucherEvent.Action.UNFREEZE, (S.FROZEN,), None)
VOID = TransitionRule(
    VoucherEvent.Action.VOID, (S.AVAILABLE, S.CLAIMED, S.FROZEN, S.EXPIRED), S.VOID
)
EXPIRE = TransitionRule(VoucherEvent.Action.EXPIRE, (S.AVAILABLE, S.CLAIMED), S.EXPIRED)


@dataclass(frozen=True)
class TransitionReport:
    changed: int
    skipped: dict[str, int]  # status -> how many were left alone because of it

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def _lock_rows(chunk: models.QuerySet) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: the IMMEDIATE transaction already holds the write lock
    sql, params = chunk.select_for_update(of=("self",)).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS locked", params)  # noqa: S608


def _insert_events(chunk: models.QuerySet, rule: TransitionRule, actor: Actor, extra: dict) -> None:
    sql, params = chunk.values("id").query.sql_with_params()
    if rule.to_status is None:
        to_status_sql = "v.frozen_from"
    elif rule.to_status == KEEP_STATUS:
        to_status_sql = "v.status"
    else:
        to_status_sql = "%s"
    context_sql = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    # Only fixed SQL fragments are formatted in; every value is a parameter.
    statement = (
        "INSERT INTO vouchers_voucherevent (voucher_id, batch_id, action, from_status,"  # noqa: S608
        " to_status, actor_kind, actor_label, user_id, partner_client_id, channel, context,"
        " created_at)"
        f" SELECT v.id, v.batch_id, %s, v.status, {to_status_sql}, %s, %s, %s, %s, '',"
        f" {context_sql}, %s FROM vouchers_voucher v WHERE v.id IN ({sql})"
    )
    values = [rule.action]
    if rule.to_status not in (None, KEEP_STATUS):
        values.append(rule.to_status)
    values += [
        actor.kind,
        actor.label,
        actor.user_id,
        actor.partner_client_id,
        json.dumps({**actor.context(), **extra}, ensure_ascii=False),
        timezone.now(),
        *params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, values)


def _apply(
    *,
    vouchers: models.QuerySet,
    rule: TransitionRule,
    actor: Actor,
    extra: dict | None = None,
    chunk_size: int = LIFECYCLE_CHUNK,
    report_skipped: bool = True,
) -> TransitionReport:
    """Apply `rule` to the vouchers of `vouchers` that are in an allowed status; report
    how many changed and (unless told not to) how many were skipped, by status."""
    skipped = (
        dict(
            vouchers.exclude(status__in=rule.from_statuses)
            .values_list("status")
            .annotate(n=models.Count("id"))
            .order_by()
        )
        if report_skipped
        else {}
    )
    candidates = vouchers.filter(status__in=rule.from_statuses)
    bounds = candidates.aggregate(lo=models.Min("id"), hi=models.Max("id"))
    changed = 0
    if bounds["lo"] is not None:
        low = bounds["lo"]
        while low <= bounds["hi"]:
            with transaction.atomic():
                chunk = candidates.filter(id__gte=low, id__lt=low + chunk_size)
                _lock_rows(chunk)
                _insert_events(chunk, rule, actor, extra or {})
                changed += chunk.update(**rule.update_values())
            low += chunk_size
    return TransitionReport(changed=changed, skipped=skipped)


def _apply_one(*, voucher: Voucher, rule: TransitionRule, actor: Actor, reason: str) -> Voucher:
    report = _apply(
        vouchers=Voucher.objects.filter(pk=voucher.pk),
        rule=rule,
        actor=actor,
        extra={"reason": reason} if reason else None,
    )
    current = Voucher.objects.select_related("batch").get(pk=voucher.pk)
    if report.changed != 1:
        raise InvalidTransition(
            _("Voucher %(serial)s is %(status)s; it cannot be %(action)s.")
            % {
                "serial": current.serial,
                "status": current.get_status_display(),
                "action": VoucherEvent.Action(rule.action).label,
            }
        )
    return current


def voucher_freeze(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    """Block one available or claimed voucher; unfreezing returns it to that status."""
    return _apply_one(voucher=voucher, rule=FREEZE, actor=actor, reason=reason)


def voucher_unfreeze(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    return _apply_one(voucher=voucher, rule=UNFREEZE, actor=actor, reason=reason)


def voucher_void(*, voucher: Voucher, actor: Actor, reason: str = "") -> Voucher:
    """Cancel a voucher for good (a redeemed one stays redeemed)."""
    return _apply_one(voucher=voucher, rule=VOID, actor=actor, reason=reason)


def vouchers_freeze(
    *, vouchers: models.QuerySet, actor: Actor, reason: str = ""
) -> TransitionReport:
    return _apply(vouchers=vouchers, rule=FREEZE, actor=actor, extra=_reason(reason))


def vouchers_unfreeze(
    *, vouchers: models.QuerySet, actor: Actor, reason: str = ""
) -> TransitionReport:
    return _apply(vouchers=vouchers, rule=UNFREEZE, actor=actor, extra=_reason(reason))


def vouchers_void(*, vouchers: models.QuerySet, actor: Actor, reason: str = "") -> TransitionReport:
    return _apply(vouchers=vouchers, rule=VOID, actor=actor, extra=_reason(reason))


def _reason(reason: str) -> dict:
    return {"reason": reason} if reason else {}


# --- Whole batches and import files --------------------------------------------------------


def voucher_batch_freeze(
    *, batch: VoucherBatch, actor: Actor, reason: str = ""
) -> TransitionReport:
    """Stop a leak: the batch takes no claims and every available or claimed voucher is
    frozen (each remembers its status for unfreezing)."""
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(frozen=True, updated_at=timezone.now())
        _batch_event(batch=batch, action="freeze", detail=reason, actor=actor)
    return _apply(vouchers=batch.vouchers.all(), rule=FREEZE, actor=actor, extra=_reason(reason))


def voucher_batch_unfreeze(
    *, batch: VoucherBatch, actor: Actor, reason: str = ""
) -> TransitionReport:
    report = _apply(
        vouchers=batch.vouchers.all(), rule=UNFREEZE, actor=actor, extra=_reason(reason)
    )
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(frozen=False, updated_at=timezone.now())
        _batch_event(batch=batch, action="unfreeze", detail=reason, actor=actor)
    return report


def voucher_batch_void(*, batch: VoucherBatch, actor: Actor, reason: str = "") -> TransitionReport:
    """Close the batch and void every voucher that is not redeemed."""
    with transaction.atomic():
        VoucherBatch.objects.filter(pk=batch.pk).update(
            status=VoucherBatch.Status.CLOSED, frozen=False, updated_at=timezone.now()
        )
        _batch_event(batch=batch, action="void", detail=reason, actor=actor)
    return _apply(vouchers=batch.vouchers.all(), rule=VOID, actor=actor, extra=_reason(reason))


def card_stock_import_void(
    *, import_job: CardStockImport, actor: Actor, reason: str = ""
) -> TransitionReport:
    """Void every voucher that came from one import file (a compromised file)."""
    _batch_event(
        batch=import_job.batch,
        action="void_import",
        detail=f"{import_job.file_name}: {reason}",
        actor=actor,
    )
    return _apply(
        vouchers=import_job.vouchers.all(),
        rule=VOID,
        actor=actor,
        extra={**_reason(reason), "import_job": import_job.pk},
    )
