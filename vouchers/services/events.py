"""The audit trail every voucher service writes: one VoucherEvent per voucher change (or
reveal), one BatchEvent per batch change, each with the actor and its request context."""

from __future__ import annotations

from riskcontrol.core.actors import Actor

from ..models import BatchEvent, Voucher, VoucherBatch, VoucherEvent


def _event(**fields) -> VoucherEvent:
    """Write one VoucherEvent (the fields of `_event_row`)."""
    event = _event_row(**fields)
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
        channel=channel,
        **VoucherEvent.actor_stamp(actor, extra=extra),
    )


def _batch_event(
    *, batch: VoucherBatch, action: str, detail: str, actor: Actor, extra: dict | None = None
) -> None:
    BatchEvent.objects.create(
        batch=batch,
        action=action,
        detail=detail[:255],
        **BatchEvent.actor_stamp(actor, extra=extra),
    )
