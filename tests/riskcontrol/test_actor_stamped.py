"""The who-did-it columns are declared once (issue 10): every event table inherits them."""

import pytest

from riskcontrol.core import ActorStamped, PartnerActorStamped, audit_record
from riskcontrol.core.actors import Actor
from riskcontrol.models import AuditEvent
from riskcontrol.services import partner_client_create
from vouchers.models import BatchEvent, CardStockImportEvent, VoucherEvent

STAMP = {"actor_kind", "actor_label", "user", "context", "created_at"}


def _own_fields(model) -> set[str]:
    return {field.name for field in model._meta.local_fields}


def test_every_event_table_takes_its_stamp_columns_from_the_abstract_models():
    for model in (BatchEvent, CardStockImportEvent):
        assert issubclass(model, ActorStamped)
        assert not issubclass(model, PartnerActorStamped)
        assert _own_fields(model) >= STAMP
    for model in (AuditEvent, VoucherEvent):
        assert issubclass(model, PartnerActorStamped)
        assert STAMP | {"partner_client"} <= _own_fields(model)


@pytest.mark.django_db
def test_an_audit_row_written_by_a_partner_carries_its_stamp():
    client = partner_client_create(name="CRM", scopes=[])
    actor = Actor(kind="partner", label="CRM", partner_client_id=client.pk, request_id="r-12345678")

    event = audit_record(subject=client, action="probe", actor=actor)

    event.refresh_from_db()
    assert (event.actor_kind, event.actor_label, event.user_id) == ("partner", "CRM", None)
    assert event.partner_client_id == client.pk
    assert event.context == {"request_id": "r-12345678"}
    assert "partner_client_id" not in BatchEvent.actor_stamp(actor)
