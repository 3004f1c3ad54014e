"""The batch change form saves through `voucher_batch_update`; creating and activating a
batch write batch events with the actor."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import BatchEvent, VoucherBatch
from vouchers.services import voucher_batch_activate, voucher_batch_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def change_form(batch: VoucherBatch, **overrides):
    data = {
        "name": batch.name,
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "valid_days": batch.valid_days or "",
        "per_member_limit": batch.per_member_limit or "",
        "cost_per_voucher": "",
        "region": batch.region,
        # the redemption rule inline on the batch page (owned by the redemption app)
        "redemption_rule-TOTAL_FORMS": "0",
        "redemption_rule-INITIAL_FORMS": "0",
    }
    if batch.allow_unclaimed_redemption:
        data["allow_unclaimed_redemption"] = "on"
    data.update(overrides)
    return data


def test_batch_change_form_saves_through_the_service_and_records_the_changes(operator):
    # given
    batch = make_batch(quantity=2, name="Spring", valid_days=30)

    # when
    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        change_form(
            batch,
            name="Spring sale",
            per_member_limit="3",
            valid_until_0="2030-12-31",
            valid_until_1="23:59:59",
            cost_per_voucher="1.50",
        ),
    )

    # then
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.name, batch.per_member_limit, batch.cost_per_voucher) == (
        "Spring sale",
        3,
        Decimal("1.50"),
    )
    assert timezone.localtime(batch.valid_until).isoformat() == "2030-12-31T23:59:59+08:00"
    event = BatchEvent.objects.get(batch=batch, action="update")
    assert event.detail == "name, valid_until, per_member_limit, cost_per_voucher"
    assert event.user == User.objects.get(username="operator-user")
    assert event.actor_label == "operator-user"
    assert event.context["changes"]["per_member_limit"] == {"from": 1, "to": 3}


def test_batch_change_form_reads_a_date_without_a_time_as_the_end_of_that_day(operator):
    batch = make_batch(quantity=2, valid_days=30)

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        change_form(batch, valid_until_0="2030-12-31", valid_until_1=""),
    )

    assert response.status_code == 302
    batch.refresh_from_db()
    assert timezone.localtime(batch.valid_until).isoformat() == "2030-12-31T23:59:59.999999+08:00"


def test_an_unchanged_batch_form_writes_no_event(operator):
    batch = make_batch(quantity=2, valid_days=30)

    operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/change/", change_form(batch))

    assert not BatchEvent.objects.filter(batch=batch, action="update").exists()


def test_batch_change_form_shows_the_service_rule_next_to_the_field(operator):
    batch = make_batch(quantity=2, valid_days=30)

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        change_form(
            batch,
            name="Renamed",
            valid_from_0="2030-06-01",
            valid_from_1="00:00:00",
            valid_until_0="2030-01-01",
            valid_until_1="00:00:00",
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "The end must come after the start." in errors["valid_until"]
    batch.refresh_from_db()
    assert batch.name == "Test batch"
    assert not BatchEvent.objects.filter(batch=batch, action="update").exists()


def test_creating_a_batch_in_the_console_records_the_operator(
    operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            "/admin/vouchers/voucherbatch/add/",
            {
                "code": "XMAS",
                "name": "Christmas",
                "kind": "coupon",
                "quantity": "3",
                "activate": "on",
                "value_type": "cash",
                "face_value": "20.00",
                "currency": "CNY",
                "code_format": "",
                "valid_days": "30",
                "per_member_limit": "1",
                "region": "",
                "redemption_rule-TOTAL_FORMS": "0",
                "redemption_rule-INITIAL_FORMS": "0",
            },
        )

    assert response.status_code == 302
    batch = VoucherBatch.objects.get(code="XMAS")
    events = list(BatchEvent.objects.filter(batch=batch).order_by("id"))
    assert [(e.action, e.actor_kind, e.actor_label) for e in events] == [
        ("create", "user", "operator-user"),
        ("activate", "system", "generation"),
    ]
    assert events[0].user == User.objects.get(username="operator-user")


def test_activating_a_batch_records_the_operator(operator):
    batch = make_batch(quantity=2, activate=False)

    operator.post(
        "/admin/vouchers/voucherbatch/", {"action": "activate", "_selected_action": [batch.pk]}
    )

    event = BatchEvent.objects.get(batch=batch, action="activate")
    assert (event.actor_kind, event.actor_label) == ("user", "operator-user")


def test_an_empty_batch_created_open_records_create_with_its_status():
    batch = voucher_batch_create(
        code="CARDS",
        name="Cards",
        kind="card_secret",
        face_value=Decimal("50.00"),
        activate=True,
        actor=Actor.system("cli"),
    )

    event = BatchEvent.objects.get(batch=batch)
    assert (event.action, event.detail, event.actor_label) == ("create", "active", "cli")


def test_activate_service_writes_its_event_in_the_same_transaction():
    batch = voucher_batch_create(
        code="EMPTY", name="Empty", face_value=Decimal("5.00"), actor=Actor.system("cli")
    )

    voucher_batch_activate(batch=batch, actor=Actor.system("ops"))

    assert list(
        BatchEvent.objects.filter(batch=batch).order_by("id").values_list("action", "actor_label")
    ) == [("create", "cli"), ("activate", "ops")]
