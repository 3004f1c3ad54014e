import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from redemption.errors import (
    AlreadyRedeemed,
    AlreadyReversed,
    BelowMinimumOrder,
    NotClaimed,
    NotRedeemableHere,
    OutsideRedemptionWindow,
    ReversalWindowPassed,
    TokenExpired,
)
from redemption.models import Redemption
from redemption.presentations import presentation_create
from redemption.services import redemption_create, redemption_reverse
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed
from tests.redemption.factories import claimed_code, make_store, rule_for
from tests.vouchers.factories import make_batch
from vouchers.errors import VoucherExpired, VoucherFrozen, VoucherVoid
from vouchers.models import Voucher, VoucherEvent
from vouchers.services import voucher_freeze, voucher_void

pytestmark = pytest.mark.django_db
CLERK = Actor(kind="user", label="clerk", user_id=None)


@pytest.fixture
def store():
    return make_store("S001", group="上海")


def redeem(store, **kwargs):
    return redemption_create(store_code=store.code, actor=kwargs.pop("actor", CLERK), **kwargs)


def test_redeem_by_code_records_the_redemption_and_moves_the_voucher(store):
    claim = claimed_code()

    redemption = redeem(store, code=claim.code, order_ref="POS-1", order_amount=Decimal("88.00"))

    assert redemption.status == Redemption.Status.COMPLETED
    assert (redemption.store, redemption.batch, redemption.method) == (
        store,
        claim.voucher.batch,
        "code",
    )
    assert redemption.discount_amount == Decimal("10.00")
    voucher = Voucher.objects.get(pk=claim.voucher.pk)
    assert voucher.status == "redeemed"
    assert voucher.redeemed_at == redemption.redeemed_at
    event = VoucherEvent.objects.get(voucher=voucher, action="redeem")
    assert (event.from_status, event.to_status, event.context["store"]) == (
        "claimed",
        "redeemed",
        "S001",
    )


def test_a_typed_code_is_folded_like_a_printed_one(store):
    claim = claimed_code()

    redemption = redeem(store, code=claim.code.lower().replace("-", " ").replace("0", "o"))

    assert redemption.voucher_id == claim.voucher.pk


def test_already_redeemed_says_when_and_where(store):
    claim = claimed_code()
    first = redeem(store, code=claim.code)

    with pytest.raises(AlreadyRedeemed) as raised:
        redeem(make_store("S002"), code=claim.code)

    assert raised.value.code == "already_redeemed"
    assert raised.value.extra["store"] == "S001"
    assert raised.value.extra["redeemed_at"] == first.redeemed_at.isoformat()
    assert "S001" in str(raised.value.detail)


def test_unknown_code_is_not_found(store):
    with pytest.raises(NotFound):
        redeem(store, code="AAAA-BBBB-CCCC-DDDD")


def test_an_unclaimed_code_needs_claiming_unless_the_batch_allows_it(store):
    make_batch(code="PRINT", quantity=2)
    make_batch(code="OPEN", quantity=2, allow_unclaimed_redemption=True)
    from vouchers.secrets import reveal_code

    printed = reveal_code(Voucher.objects.filter(batch__code="PRINT").first())
    open_code = reveal_code(Voucher.objects.filter(batch__code="OPEN").first())

    with pytest.raises(NotClaimed) as raised:
        redeem(store, code=printed)
    redemption = redeem(store, code=open_code)

    assert raised.value.code == "not_claimed"
    assert redemption.voucher_status_before == "available"


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ("freeze", VoucherFrozen, "voucher_frozen"),
        ("void", VoucherVoid, "voucher_void"),
        ("expire", VoucherExpired, "voucher_expired"),
        ("expires_at_passed", VoucherExpired, "voucher_expired"),
    ],
)
def test_frozen_void_and_expired_vouchers_are_refused(store, change, error, code):
    claim = claimed_code()
    voucher = claim.voucher
    {
        "freeze": lambda: voucher_freeze(voucher=voucher, actor=CLERK),
        "void": lambda: voucher_void(voucher=voucher, actor=CLERK),
        "expire": lambda: Voucher.objects.filter(pk=voucher.pk).update(status="expired"),
        "expires_at_passed": lambda: Voucher.objects.filter(pk=voucher.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        ),
    }[change]()

    with pytest.raises(error) as raised:
        redeem(store, code=claim.code)

    assert raised.value.code == code
    assert not Redemption.objects.exists()


def test_listed_stores_only(store):
    claim = claimed_code()
    other = make_store("S002", group="杭州")
    rule_for(claim.voucher.batch, store_scope="listed", stores=[other])

    with pytest.raises(NotRedeemableHere) as raised:
        redeem(store, code=claim.code)

    assert raised.value.code == "not_redeemable_here"
    assert redeem(other, code=claim.code).store == other


def test_store_groups_only(store):
    claim = claimed_code()
    rule_for(claim.voucher.batch, store_scope="groups", store_groups=["杭州"])

    with pytest.raises(NotRedeemableHere):
        redeem(store, code=claim.code)
    assert redeem(make_store("S003", group="杭州"), code=claim.code)


def test_weekly_time_windows_in_the_platform_time_zone(store, time_machine):
    claim = claimed_code()
    rule_for(
        claim.voucher.batch, windows=[{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "14:00"}]
    )
    shanghai = dt.timezone(dt.timedelta(hours=8))
    time_machine.move_to(dt.datetime(2026, 11, 28, 11, 0, tzinfo=shanghai))  # a Saturday

    with pytest.raises(OutsideRedemptionWindow) as saturday:
        redeem(store, code=claim.code)
    time_machine.move_to(dt.datetime(2026, 11, 30, 9, 59, tzinfo=shanghai))  # Monday 09:59
    with pytest.raises(OutsideRedemptionWindow):
        redeem(store, code=claim.code)
    time_machine.move_to(dt.datetime(2026, 11, 30, 10, 0, tzinfo=shanghai))

    assert saturday.value.code == "outside_redemption_window"
    assert redeem(store, code=claim.code).status == "completed"


@pytest.mark.parametrize("order_amount", [None, Decimal("49.99")])
def test_below_minimum_order(store, order_amount):
    claim = claimed_code(value_type="threshold", min_order_amount=Decimal("50.00"))

    with pytest.raises(BelowMinimumOrder) as raised:
        redeem(store, code=claim.code, order_amount=order_amount)

    assert raised.value.code == "below_minimum_order"
    assert raised.value.extra["minimum_order_amount"] == "50.00"


def test_a_rule_minimum_applies_to_any_value_type(store):
    claim = claimed_code()
    rule_for(claim.voucher.batch, min_order_amount=Decimal("30.00"))

    with pytest.raises(BelowMinimumOrder):
        redeem(store, code=claim.code, order_amount=Decimal("29.00"))
    assert redeem(store, code=claim.code, order_amount=Decimal("30.00"))


@pytest.mark.parametrize(
    ("batch", "order_amount", "discount"),
    [
        ({"value_type": "cash", "face_value": Decimal("10.00")}, Decimal("100.00"), "10.00"),
        ({"value_type": "cash", "face_value": Decimal("10.00")}, Decimal("8.00"), "8.00"),
        ({"value_type": "cash", "face_value": Decimal("10.00")}, None, "10.00"),
        (
            {"value_type": "percent", "percent_off": Decimal("20"), "face_value": Decimal("0")},
            Decimal("88.88"),
            "17.78",
        ),
        (
            {
                "value_type": "percent",
                "percent_off": Decimal("20"),
                "max_discount": Decimal("15.00"),
                "face_value": Decimal("0"),
            },
            Decimal("200.00"),
            "15.00",
        ),
        (
            {
                "value_type": "threshold",
                "face_value": Decimal("10.00"),
                "min_order_amount": Decimal("50.00"),
            },
            Decimal("50.00"),
            "10.00",
        ),
        ({"value_type": "gift", "face_value": Decimal("30.00")}, Decimal("5.00"), "30.00"),
    ],
)
def test_discount_amount_for_each_value_type(store, batch, order_amount, discount):
    claim = claimed_code(**batch)

    redemption = redeem(store, code=claim.code, order_amount=order_amount)

    assert redemption.discount_amount == Decimal(discount)


def test_a_percent_voucher_needs_the_order_amount(store):
    claim = claimed_code(value_type="percent", percent_off=Decimal("10"), face_value=Decimal("0"))

    with pytest.raises(ValidationFailed) as raised:
        redeem(store, code=claim.code)

    assert "order_amount" in raised.value.errors


def test_exactly_one_of_code_token_serial(store):
    claim = claimed_code()

    with pytest.raises(ValidationFailed):
        redeem(store, code=claim.code, serial=claim.voucher.serial)
    with pytest.raises(ValidationFailed):
        redeem(store)


def test_unknown_or_inactive_store(store):
    claim = claimed_code()
    make_store("CLOSED", active=False)

    with pytest.raises(NotFound, match="store"):
        redemption_create(store_code="NOPE", code=claim.code, actor=CLERK)
    with pytest.raises(NotFound, match="store"):
        redemption_create(store_code="CLOSED", code=claim.code, actor=CLERK)


def test_a_store_bound_caller_is_refused_at_another_store(store):
    claim = claimed_code()

    with pytest.raises(PermissionDenied) as raised:
        redeem(store, code=claim.code, bound_store_code="S009")

    assert raised.value.code == "permission_denied"


def test_redeem_reverse_redeem_and_a_second_reversal(store):
    claim = claimed_code()
    first = redeem(store, code=claim.code)

    reversed_ = redemption_reverse(redemption_id=first.pk, actor=CLERK, reason="refund")
    second = redeem(store, code=claim.code)
    with pytest.raises(AlreadyReversed) as raised:
        redemption_reverse(redemption_id=first.pk, actor=CLERK, reason="again")

    assert (reversed_.status, reversed_.reversal_reason) == ("reversed", "refund")
    assert raised.value.code == "already_reversed"
    assert second.status == "completed"
    assert Redemption.objects.filter(voucher=claim.voucher, status="completed").count() == 1
    actions = (
        VoucherEvent.objects.filter(voucher=claim.voucher)
        .order_by("id")
        .values_list("action", "to_status")
    )
    assert list(actions) == [
        ("claim", "claimed"),
        ("redeem", "redeemed"),
        ("reverse", "claimed"),
        ("redeem", "redeemed"),
    ]


def test_reversal_after_the_window(store, time_machine):
    claim = claimed_code()
    redemption = redeem(store, code=claim.code)
    time_machine.move_to(timezone.now() + dt.timedelta(hours=24, minutes=1))

    with pytest.raises(ReversalWindowPassed) as raised:
        redemption_reverse(redemption_id=redemption.pk, actor=CLERK, reason="late")

    assert raised.value.code == "reversal_window_passed"
    assert Voucher.objects.get(pk=claim.voucher.pk).status == "redeemed"


def test_reversing_an_unclaimed_printed_code_returns_it_to_available(store):
    make_batch(code="OPEN", quantity=1, allow_unclaimed_redemption=True)
    from vouchers.secrets import reveal_code

    code = reveal_code(Voucher.objects.get(batch__code="OPEN"))
    redemption = redeem(store, code=code)

    redemption_reverse(redemption_id=redemption.pk, actor=CLERK, reason="wrong item")

    assert Voucher.objects.get(batch__code="OPEN").status == "available"


def test_a_delivered_card_secret_never_returns_to_stock(store):
    make_batch(code="CARD", quantity=1, kind="card_secret", allow_unclaimed_redemption=True)
    voucher = Voucher.objects.get(batch__code="CARD")
    redemption = redeem(store, serial=voucher.serial)

    redemption_reverse(redemption_id=redemption.pk, actor=CLERK, reason="refund")

    assert Voucher.objects.get(pk=voucher.pk).status == "void"


def test_a_reversal_outside_the_bound_store_is_not_found(store):
    claim = claimed_code()
    redemption = redeem(store, code=claim.code)

    with pytest.raises(NotFound):
        redemption_reverse(redemption_id=redemption.pk, actor=CLERK, bound_store_code="S009")


# --- presentation tokens ----------------------------------------------------------------


def test_a_presentation_token_redeems_and_never_contains_the_code(store):
    claim = claimed_code()
    presentation = presentation_create(voucher=claim.voucher, actor=CLERK)

    redemption = redeem(store, token=presentation.token)

    assert presentation.token.startswith("QY.")
    assert claim.code.replace("-", "") not in presentation.token.replace("-", "").upper()
    assert "<svg" in presentation.qr_svg
    assert redemption.method == "token"


def test_a_token_past_its_lifetime_is_refused(store, time_machine):
    claim = claimed_code()
    presentation = presentation_create(voucher=claim.voucher, actor=CLERK)
    time_machine.move_to(timezone.now() + dt.timedelta(seconds=121))

    with pytest.raises(TokenExpired) as raised:
        redeem(store, token=presentation.token)

    assert raised.value.code == "token_expired"


def test_a_forged_token_is_not_found(store):
    claim = claimed_code()
    token = presentation_create(voucher=claim.voucher, actor=CLERK).token

    with pytest.raises(NotFound):
        redeem(store, token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_only_claimed_vouchers_get_a_token(store):
    make_batch(code="NEW", quantity=1)

    with pytest.raises(NotClaimed):
        presentation_create(voucher=Voucher.objects.get(batch__code="NEW"), actor=CLERK)


# --- guessing defence -------------------------------------------------------------------


def test_21_unknown_codes_in_a_row_from_one_clerk_give_429(store, django_user_model):
    clerk = django_user_model.objects.create_user("guesser")
    actor = Actor(kind="user", label="guesser", user_id=clerk.pk)
    claim = claimed_code()
    for attempt in range(20):
        with pytest.raises(NotFound):
            redeem(store, code=f"WRONG-{attempt:04d}", actor=actor)

    with pytest.raises(RateLimited) as raised:
        redeem(store, code=claim.code, actor=actor)

    assert raised.value.code == "rate_limited"
    assert 1 <= raised.value.retry_after <= 600
    assert Voucher.objects.get(pk=claim.voucher.pk).status == "claimed"


def test_the_guess_window_ends(store, django_user_model, time_machine, settings):
    settings.RISK_REDIS_URL = ""  # the database counter (Redis expiry ignores time_machine)
    clerk = django_user_model.objects.create_user("guesser")
    actor = Actor(kind="user", label="guesser", user_id=clerk.pk)
    for attempt in range(20):
        with pytest.raises(NotFound):
            redeem(store, code=f"WRONG-{attempt:04d}", actor=actor)
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=11))

    with pytest.raises(NotFound):
        redeem(store, code="WRONG-AGAIN", actor=actor)
