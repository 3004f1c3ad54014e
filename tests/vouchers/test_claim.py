import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Member
from members.services import member_upsert
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, ValidationFailed
from tests.vouchers.factories import make_batch
from vouchers.errors import BatchNotActive, LimitReached, SoldOut
from vouchers.models import Voucher, VoucherBatch, VoucherEvent
from vouchers.secrets import code_index
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db
ACTOR = Actor(kind="partner", label="CRM", request_id="req-1", ip="10.1.1.1")


@pytest.fixture
def member():
    return member_upsert(external_id="M1")[0]


def claim(batch, external_id="M1", **kwargs):
    return voucher_claim(
        batch_code=batch.code, member_external_id=external_id, actor=ACTOR, **kwargs
    )


def assert_claims_written(count):
    """A refused claim writes nothing: no voucher leaves `available`, no event is added."""
    assert Voucher.objects.exclude(status="available").count() == count
    assert Voucher.objects.exclude(member=None).count() == count
    assert VoucherEvent.objects.count() == count


def test_claim_gives_the_member_a_voucher_with_its_code(member, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC), tick=False)
    batch = make_batch(quantity=3, valid_days=7)

    result = claim(batch, channel="mini_program", trace={"campaign": "双十二"})

    voucher = Voucher.objects.get(pk=result.voucher.pk)
    assert voucher.status == Voucher.Status.CLAIMED
    assert voucher.member == member
    assert voucher.channel == "mini_program"
    assert voucher.trace == {"campaign": "双十二"}
    assert voucher.claimed_at == dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    assert voucher.expires_at == dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
    assert bytes(voucher.secret_index) == code_index(result.code.replace("-", ""))
    event = VoucherEvent.objects.get()
    assert (event.voucher, event.action, event.from_status, event.to_status) == (
        voucher,
        "claim",
        "available",
        "claimed",
    )
    assert (event.actor_kind, event.actor_label, event.channel) == (
        "partner",
        "CRM",
        "mini_program",
    )
    assert event.context == {"request_id": "req-1", "ip": "10.1.1.1"}


def test_claims_take_vouchers_in_order(member):
    batch = make_batch(quantity=3, per_member_limit=None)

    serials = [claim(batch).voucher.serial for _ in range(3)]

    assert serials == [f"{batch.code}-000001", f"{batch.code}-000002", f"{batch.code}-000003"]


def test_expiry_from_days_never_passes_the_batch_end(member):
    end = timezone.now() + dt.timedelta(days=2)
    batch = make_batch(quantity=1, valid_days=30, valid_until=end)

    assert claim(batch).voucher.expires_at == end


def test_fixed_dates_expire_at_the_batch_end(member):
    end = timezone.now() + dt.timedelta(days=2)
    batch = make_batch(quantity=1, valid_days=None, valid_until=end)

    assert claim(batch).voucher.expires_at == end


def test_sold_out(member):
    batch = make_batch(quantity=1, per_member_limit=None)
    claim(batch)

    with pytest.raises(SoldOut) as raised:
        claim(batch)

    assert raised.value.code == "sold_out"
    assert VoucherEvent.objects.count() == 1
    assert_claims_written(1)


def test_limit_reached(member):
    batch = make_batch(quantity=5, per_member_limit=2)
    claim(batch)
    claim(batch)

    with pytest.raises(LimitReached) as raised:
        claim(batch)

    assert raised.value.code == "limit_reached"
    assert Voucher.objects.filter(member=member).count() == 2
    assert_claims_written(2)


def test_no_limit_lets_a_member_claim_many(member):
    batch = make_batch(quantity=5, per_member_limit=None)

    for _ in range(5):
        claim(batch)

    assert Voucher.objects.filter(member=member).count() == 5


@pytest.mark.parametrize("status", ["draft", "paused", "closed"])
def test_batch_not_open(member, status):
    batch = make_batch(quantity=2)
    VoucherBatch.objects.filter(pk=batch.pk).update(status=status)

    with pytest.raises(BatchNotActive) as raised:
        claim(batch)

    assert raised.value.code == "batch_not_active"
    assert not Voucher.objects.filter(member=member).exists()
    assert_claims_written(0)


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [
        (dt.timedelta(hours=1), dt.timedelta(days=2)),
        (dt.timedelta(days=-3), dt.timedelta(seconds=-1)),
    ],
)
def test_batch_outside_its_validity_window(member, valid_from, valid_until):
    now = timezone.now()
    batch = make_batch(quantity=2, valid_from=now + valid_from, valid_until=now + valid_until)

    with pytest.raises(BatchNotActive):
        claim(batch)

    assert_claims_written(0)


def test_unknown_batch(member):
    with pytest.raises(NotFound, match="No batch"):
        voucher_claim(batch_code="NOPE", member_external_id="M1", actor=ACTOR)

    assert not VoucherBatch.objects.filter(code="NOPE").exists()
    assert not VoucherEvent.objects.exists()


@pytest.mark.parametrize("limit", [1, None])
def test_unknown_member(limit):
    batch = make_batch(quantity=2, per_member_limit=limit)

    with pytest.raises(NotFound, match="No member"):
        claim(batch, external_id="GHOST")

    assert Voucher.objects.filter(status="available").count() == 2
    assert not Member.objects.filter(external_id="GHOST").exists()
    assert_claims_written(0)


def test_oversized_trace_is_refused(member):
    batch = make_batch(quantity=1)

    with pytest.raises(ValidationFailed) as raised:
        claim(batch, trace={"x": "y" * 3000})

    assert "trace" in raised.value.errors
    assert_claims_written(0)


def test_invalid_batch_definitions_are_refused_per_field():
    from vouchers.services import voucher_batch_create

    with pytest.raises(ValidationFailed) as raised:
        voucher_batch_create(
            code="BAD",
            name="x",
            value_type="threshold",
            face_value=Decimal("20.00"),
            min_order_amount=Decimal("10.00"),
            percent_off=Decimal("10"),
            max_discount=Decimal("5"),
            valid_days=0,
            per_member_limit=0,
            quantity=2_000_000,
            actor=ACTOR,
        )

    assert set(raised.value.errors) == {
        "min_order_amount",
        "percent_off",
        "max_discount",
        "valid_days",
        "per_member_limit",
        "quantity",
    }
    assert not VoucherBatch.objects.exists()


def test_database_rejects_a_claimed_voucher_without_member():
    from django.db import IntegrityError

    batch = make_batch(quantity=1)

    with pytest.raises(IntegrityError):
        Voucher.objects.filter(batch=batch).update(status="claimed", claimed_at=timezone.now())


def test_database_rejects_inconsistent_value_fields():
    from django.db import IntegrityError

    batch = make_batch(quantity=None)

    with pytest.raises(IntegrityError):
        VoucherBatch.objects.filter(pk=batch.pk).update(value_type="percent")
