"""The audit trail every voucher service writes: one VoucherEvent per voucher change (or
reveal), one BatchEvent per batch change, each with the actor and its request context."""

from __future__ import annotations

from riskcontrol.core.actors import Actor

from ..models import BatchEvent, Voucher, VoucherBatch, VoucherEvent


def _event(
    *,
    voucher: Voucher,
    action: str,
    from_status: str,
    to_status: str,
    actor: Actor,
    channel: str = "",
    extra: dict | None = None,
) -> VoucherEvent:
    event = _event_row(
        voucher=voucher,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        channel=channel,
        extra=extra,
    )
    event.save(force_insert=True)
    return event


def _event_row(
    *,
    voucher: Voucher,
    action: str,
    from_status: str,
    to_status: str,
    actor: Actor,
    channel: str = "",
    extra: dict | None = None,
) -> VoucherEvent:
    """The unsaved event, for a caller that writes it in a statement of its own."""
    return VoucherEvent(
        voucher=voucher,
        batch_id=voucher.batch_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_kind=actor.kind,
        actor_label=actor.label,
        user_id=actor.user_id,
        partner_client_id=actor.partner_client_id,
        channel=channel,
        context={**actor.context(), **(extra or {})},
    )


def _batch_event(
    *, batch: VoucherBatch, action: str, detail: str, actor: Actor, extra: dict | None = None
) -> None:
    BatchEvent.objects.create(
        batch=batch,
        action=action,
        detail=detail[:255],
        actor_kind=actor.kind,
        actor_label=actor.label,
        user_id=actor.user_id,
        context={**actor.context(), **(extra or {})},
    )
