import datetime as dt

import pytest
from django.utils import timezone

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.vouchers.factories import make_batch
from vouchers.errors import BatchNotActive, InvalidTransition, VoucherFrozen, VoucherVoid
from vouchers.models import BatchEvent, CardStockImport, Voucher, VoucherBatch, VoucherEvent
from vouchers.services import (
    card_stock_import_void,
    voucher_batch_close,
    voucher_batch_freeze,
    voucher_batch_pause,
    voucher_batch_resume,
    voucher_batch_unfreeze,
    voucher_batch_void,
    voucher_claim,
    voucher_freeze,
    voucher_reveal,
    voucher_unfreeze,
    voucher_void,
    vouchers_expire_due,
    vouchers_freeze,
)

pytestmark = pytest.mark.django_db
OPERATOR = Actor(kind="user", label="op", user_id=None)
PARTNER = Actor(kind="partner", label="CRM")


@pytest.fixture(autouse=True)
def member():
    return member_upsert(external_id="M1")[0]


def claim(batch):
    return voucher_claim(batch_code=batch.code, member_external_id="M1", actor=PARTNER).voucher


def status_of(voucher):
    return Voucher.objects.get(pk=voucher.pk).status


def set_status(voucher, status):
    Voucher.objects.filter(pk=voucher.pk).update(status=status)


def test_freeze_then_unfreeze_returns_a_claimed_voucher_to_claimed():
    voucher = claim(make_batch(quantity=2))

    frozen = voucher_freeze(voucher=voucher, actor=OPERATOR, reason="suspicious")
    unfrozen = voucher_unfreeze(voucher=voucher, actor=OPERATOR)

    assert (frozen.status, frozen.frozen_from) == ("frozen", "claimed")
    assert (unfrozen.status, unfrozen.frozen_from) == ("claimed", "")
    events = list(VoucherEvent.objects.filter(voucher=voucher).order_by("id"))
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("claim", "available", "claimed"),
        ("freeze", "claimed", "frozen"),
        ("unfreeze", "frozen", "claimed"),
    ]
    assert events[1].context["reason"] == "suspicious"
    assert events[1].actor_label == "op"


def test_freeze_then_unfreeze_returns_an_available_voucher_to_available():
    voucher = Voucher.objects.filter(batch=make_batch(quantity=1)).get()

    voucher_freeze(voucher=voucher, actor=OPERATOR)
    voucher_unfreeze(voucher=voucher, actor=OPERATOR)

    assert status_of(voucher) == "available"


@pytest.mark.parametrize("status", ["redeemed", "void", "expired", "frozen"])
def test_freeze_is_refused_unless_available_or_claimed(status):
    voucher = claim(make_batch(quantity=1))
    set_status(voucher, status)
    if status == "frozen":
        Voucher.objects.filter(pk=voucher.pk).update(frozen_from="claimed")

    with pytest.raises(InvalidTransition) as raised:
        voucher_freeze(voucher=voucher, actor=OPERATOR)

    assert raised.value.code == "invalid_transition"
    assert status_of(voucher) == status


@pytest.mark.parametrize("status", ["redeemed", "claimed", "available", "void"])
def test_unfreeze_is_refused_for_a_voucher_that_is_not_frozen(status):
    voucher = claim(make_batch(quantity=1))
    set_status(voucher, status)

    with pytest.raises(InvalidTransition, match="cannot be unfrozen"):
        voucher_unfreeze(voucher=voucher, actor=OPERATOR)

    assert VoucherEvent.objects.filter(voucher=voucher, action="unfreeze").count() == 0


def test_void_a_frozen_voucher():
    voucher = claim(make_batch(quantity=1))
    voucher_freeze(voucher=voucher, actor=OPERATOR)

    voided = voucher_void(voucher=voucher, actor=OPERATOR, reason="leaked")

    assert (voided.status, voided.frozen_from) == ("void", "")


def test_void_is_refused_for_a_redeemed_voucher():
    voucher = claim(make_batch(quantity=1))
    set_status(voucher, "redeemed")

    with pytest.raises(InvalidTransition):
        voucher_void(voucher=voucher, actor=OPERATOR)


def test_bulk_freeze_reports_what_it_left_alone():
    batch = make_batch(quantity=6, per_member_limit=None)
    first, second = claim(batch), claim(batch)
    set_status(first, "redeemed")
    voucher_void(voucher=second, actor=OPERATOR)

    report = vouchers_freeze(vouchers=batch.vouchers.all(), actor=OPERATOR, reason="audit")

    assert report.changed == 4
    assert report.skipped == {"redeemed": 1, "void": 1}
    assert batch.vouchers.filter(status="frozen").count() == 4
    assert VoucherEvent.objects.filter(action="freeze").count() == 4


def test_pause_stops_claims_and_resume_restarts_them():
    batch = make_batch(quantity=3, per_member_limit=None)

    voucher_batch_pause(batch=batch, actor=OPERATOR)
    with pytest.raises(BatchNotActive) as raised:
        claim(batch)
    voucher_batch_resume(batch=batch, actor=OPERATOR)

    assert raised.value.code == "batch_not_active"
    assert claim(batch).status == "claimed"
    assert list(
        BatchEvent.objects.filter(batch=batch).order_by("id").values_list("action", flat=True)
    ) == [
        "create",
        "activate",
        "pause",
        "resume",
    ]


def test_closed_batch_takes_no_claims_and_cannot_be_resumed():
    batch = make_batch(quantity=3)

    voucher_batch_close(batch=batch, actor=OPERATOR, reason="campaign over")

    with pytest.raises(BatchNotActive):
        claim(batch)
    with pytest.raises(InvalidTransition) as raised:
        voucher_batch_resume(batch=batch, actor=OPERATOR)
    assert raised.value.code == "invalid_transition"
    with pytest.raises(InvalidTransition):
        voucher_batch_close(batch=batch, actor=OPERATOR)


def test_pausing_a_paused_batch_is_refused():
    batch = make_batch(quantity=1)
    voucher_batch_pause(batch=batch, actor=OPERATOR)

    with pytest.raises(InvalidTransition, match="cannot be paused"):
        voucher_batch_pause(batch=batch, actor=OPERATOR)


def test_freezing_a_batch_freezes_its_vouchers_and_unfreezing_restores_each_status():
    batch = make_batch(quantity=5, per_member_limit=None)
    claimed, redeemed = claim(batch), claim(batch)
    set_status(redeemed, "redeemed")

    report = voucher_batch_freeze(batch=batch, actor=OPERATOR, reason="leak")
    with pytest.raises(BatchNotActive):
        claim(batch)
    restored = voucher_batch_unfreeze(batch=batch, actor=OPERATOR)

    assert (report.changed, report.skipped) == (4, {"redeemed": 1})
    assert restored.changed == 4
    assert status_of(claimed) == "claimed"
    assert status_of(redeemed) == "redeemed"
    assert batch.vouchers.filter(status="available").count() == 3
    assert not VoucherBatch.objects.get(pk=batch.pk).frozen
    assert claim(batch).status == "claimed"


def test_voiding_a_batch_closes_it_and_voids_all_but_redeemed():
    batch = make_batch(quantity=4, per_member_limit=None)
    redeemed = claim(batch)
    set_status(redeemed, "redeemed")

    report = voucher_batch_void(batch=batch, actor=OPERATOR, reason="cancelled")

    assert (report.changed, report.skipped) == (3, {"redeemed": 1})
    assert VoucherBatch.objects.get(pk=batch.pk).status == "closed"
    assert status_of(redeemed) == "redeemed"


def test_voiding_an_import_voids_only_its_vouchers():
    batch = make_batch(quantity=6, kind="card_secret")
    job = CardStockImport.objects.create(batch=batch, file_name="leaked.csv")
    batch.vouchers.filter(sequence__lte=4).update(import_job=job)

    report = card_stock_import_void(import_job=job, actor=OPERATOR, reason="file leaked")

    assert report.changed == 4
    assert batch.vouchers.filter(status="void").count() == 4
    assert batch.vouchers.filter(status="available").count() == 2
    assert VoucherEvent.objects.filter(action="void", context__import_job=job.pk).count() == 4


# --- card secrets ----------------------------------------------------------------------


def test_an_unclaimed_card_secret_is_never_revealed():
    voucher = Voucher.objects.filter(batch=make_batch(quantity=1, kind="card_secret")).get()

    with pytest.raises(InvalidTransition, match="unclaimed card secret"):
        voucher_reveal(voucher=voucher, actor=OPERATOR, reason="check")

    assert not VoucherEvent.objects.filter(action="reveal").exists()


def test_a_claimed_card_secret_frozen_and_unfrozen_goes_back_to_claimed_not_stock():
    voucher = claim(make_batch(quantity=1, kind="card_secret"))

    voucher_freeze(voucher=voucher, actor=OPERATOR)
    voucher_unfreeze(voucher=voucher, actor=OPERATOR)

    assert status_of(voucher) == "claimed"


# --- reveal ----------------------------------------------------------------------------


def test_reveal_records_who_and_why():
    voucher = claim(make_batch(quantity=1))

    code = voucher_reveal(voucher=voucher, actor=OPERATOR, reason="customer lost it")

    event = VoucherEvent.objects.get(action="reveal")
    assert len(code) == 19
    assert (event.voucher, event.actor_label, event.context["reason"]) == (
        voucher,
        "op",
        "customer lost it",
    )
    assert (event.from_status, event.to_status) == ("claimed", "claimed")


def test_an_operator_must_say_why():
    voucher = claim(make_batch(quantity=1))

    with pytest.raises(ValidationFailed) as raised:
        voucher_reveal(voucher=voucher, actor=OPERATOR, reason="  ")

    assert "reason" in raised.value.errors


def test_a_partner_cannot_reveal_a_frozen_or_void_voucher():
    batch = make_batch(quantity=2, per_member_limit=None)
    frozen, void = claim(batch), claim(batch)
    voucher_freeze(voucher=frozen, actor=OPERATOR)
    voucher_void(voucher=void, actor=OPERATOR)

    with pytest.raises(VoucherFrozen) as frozen_error:
        voucher_reveal(voucher=frozen, actor=PARTNER, for_partner=True)
    with pytest.raises(VoucherVoid) as void_error:
        voucher_reveal(voucher=void, actor=PARTNER, for_partner=True)

    assert (frozen_error.value.code, void_error.value.code) == ("voucher_frozen", "voucher_void")


# --- expiry ----------------------------------------------------------------------------


def test_expiry_expires_what_is_due_closes_ended_batches_and_is_idempotent(time_machine):
    start = timezone.now()
    days_batch = make_batch(quantity=3, valid_days=1, per_member_limit=None)
    ended_batch = make_batch(quantity=3, valid_until=start + dt.timedelta(days=5), valid_days=None)
    due, frozen = claim(days_batch), claim(days_batch)
    voucher_freeze(voucher=frozen, actor=OPERATOR)
    kept = claim(ended_batch)

    time_machine.move_to(start + dt.timedelta(days=2))
    first = vouchers_expire_due()
    time_machine.move_to(start + dt.timedelta(days=6))
    second = vouchers_expire_due()
    third = vouchers_expire_due()

    assert (first.vouchers_expired, first.batches_closed) == (1, 0)
    assert status_of(due) == "expired"
    assert status_of(frozen) == "frozen"
    assert (second.vouchers_expired, second.batches_closed) == (3, 1)  # kept + 2 unclaimed
    assert status_of(kept) == "expired"
    assert VoucherBatch.objects.get(pk=ended_batch.pk).status == "closed"
    assert days_batch.vouchers.filter(status="available").count() == 1  # no end date
    assert (third.vouchers_expired, third.batches_closed) == (0, 0)
    assert VoucherEvent.objects.filter(action="expire", actor_kind="system").count() == 4
