"""The clerk's page between scans: a refusal keeps what was typed, Check asks for the order
amount when the voucher needs one, and every refusal is a plain sentence. (A page is read
with `read`, which takes the code out before any assertion can print the page.)"""

import re
from decimal import Decimal

import pytest
from django.test import Client

from redemption.models import Redemption, StoreStaff
from tests.redemption.factories import claimed_code, make_staff, make_store, rule_for

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def clerk():
    store = make_store("S001", name="南京西路店")
    make_staff("clerk", store, StoreStaff.Role.CLERK)
    client = Client()
    client.post("/store/login/", {"username": "clerk", "password": "pw-staff-123"})
    return client


def box(page: str, name: str) -> str:
    """The value the page puts in the input `name` (empty when none)."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page, re.S)
    assert tag, f"no {name} box on the page"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def read(response, code: str) -> tuple[str, bool]:
    """The page with the code taken out, and whether the code was in the code box."""
    page = response.content.decode()
    return page.replace(code, "[the code]"), box(page, "code") == code


def has_autofocus(page: str, name: str) -> bool:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page, re.S)
    return bool(tag) and "autofocus" in tag.group(0)


def test_a_refusal_keeps_the_code_amount_and_order_number_in_their_boxes(clerk):
    claim = claimed_code()
    clerk.post("/store/redeem/", {"code": claim.code})

    refused = clerk.post(
        "/store/redeem/", {"code": claim.code, "order_amount": "58.00", "order_ref": "T-9"}
    )

    page, code_kept = read(refused, claim.code)
    assert refused.status_code == 409
    assert 'data-code="already_redeemed"' in page
    assert code_kept
    assert (box(page, "order_amount"), box(page, "order_ref")) == ("58.00", "T-9")
    assert has_autofocus(page, "code")


def test_an_unknown_code_stays_in_the_box(clerk):
    refused = clerk.post("/store/check/", {"code": "WRONG-CODE-1"})

    page, code_kept = read(refused, "WRONG-CODE-1")
    assert refused.status_code == 404
    assert "Unknown code. Check it and try again." in page
    assert code_kept


def test_only_a_redemption_clears_the_boxes(clerk):
    claim = claimed_code()

    done = clerk.post(
        "/store/redeem/", {"code": claim.code, "order_amount": "58.00", "order_ref": "T-1"}
    )

    page, _kept = read(done, claim.code)
    assert 'class="result ok"' in page
    assert (box(page, "code"), box(page, "order_amount"), box(page, "order_ref")) == ("", "", "")


def test_check_on_a_minimum_order_voucher_asks_for_the_amount(clerk):
    claim = claimed_code(value_type="threshold", min_order_amount=Decimal("50.00"))

    page, code_kept = read(clerk.post("/store/check/", {"code": claim.code}, **ZH), claim.code)

    assert "最低消费" in page and "50.00 CNY" in page
    assert "该卡券要求订单金额至少为 50.00 CNY：请输入订单金额，再点“核销”。" in page
    assert 'data-ask-amount="1"' in page
    assert has_autofocus(page, "order_amount")
    assert not has_autofocus(page, "code")
    assert code_kept


def test_a_rule_minimum_asks_for_the_amount_too(clerk):
    claim = claimed_code()
    rule_for(claim.voucher.batch, min_order_amount=Decimal("30.00"))

    page, _kept = read(clerk.post("/store/check/", {"code": claim.code}), claim.code)

    assert "This voucher needs an order of at least 30.00 CNY" in page
    assert has_autofocus(page, "order_amount")


def test_check_on_a_voucher_without_minimum_does_not_ask(clerk):
    claim = claimed_code()

    page, _kept = read(clerk.post("/store/check/", {"code": claim.code}), claim.code)

    assert "data-ask-amount" not in page
    assert 'id="amount-prompt"' not in page
    assert has_autofocus(page, "code")


def test_check_with_an_amount_below_the_minimum_says_so(clerk):
    claim = claimed_code(value_type="threshold", min_order_amount=Decimal("50.00"))

    checked = clerk.post("/store/check/", {"code": claim.code, "order_amount": "30.00"}, **ZH)

    page, code_kept = read(checked, claim.code)
    assert 'data-code="below_minimum_order"' in page
    assert "该卡券要求订单金额至少为 50.00 CNY。" in page
    assert has_autofocus(page, "order_amount")
    assert code_kept


@pytest.mark.parametrize("order_amount", ["", "49.99"])
def test_redeeming_below_the_minimum_is_refused_and_the_code_stays(clerk, order_amount):
    claim = claimed_code(value_type="threshold", min_order_amount=Decimal("50.00"))

    refused = clerk.post("/store/redeem/", {"code": claim.code, "order_amount": order_amount}, **ZH)

    page, code_kept = read(refused, claim.code)
    assert refused.status_code == 409
    assert "该卡券要求订单金额至少为 50.00 CNY。" in page
    assert code_kept
    assert has_autofocus(page, "order_amount")
    assert not Redemption.objects.exists()


def test_scan_amount_redeem(clerk):
    claim = claimed_code(value_type="threshold", min_order_amount=Decimal("50.00"))
    clerk.post("/store/check/", {"code": claim.code})

    done = clerk.post("/store/redeem/", {"code": claim.code, "order_amount": "50.00"})

    page, _kept = read(done, claim.code)
    assert 'class="result ok"' in page
    assert Redemption.objects.get().order_amount == Decimal("50.00")


def test_a_percent_voucher_asks_for_the_amount_and_says_why_in_a_sentence(clerk):
    claim = claimed_code(value_type="percent", face_value=Decimal("0"), percent_off=Decimal("20"))

    checked, _kept = read(clerk.post("/store/check/", {"code": claim.code}, **ZH), claim.code)
    refused = clerk.post("/store/redeem/", {"code": claim.code}, **ZH)

    assert "订单金额减 20%" in checked
    assert "优惠金额取决于订单金额：请输入订单金额，再点“核销”。" in checked
    assert has_autofocus(checked, "order_amount")
    page, code_kept = read(refused, claim.code)
    result = page.split('id="result"')[1].split("</section>")[0]
    assert refused.status_code == 400
    assert "折扣券需要填写订单金额。" in result, result
    assert code_kept
    assert has_autofocus(page, "order_amount")


def test_an_amount_that_is_not_a_number_is_refused_in_a_sentence(clerk):
    claim = claimed_code()

    refused = clerk.post("/store/redeem/", {"code": claim.code, "order_amount": "-5"})

    page, code_kept = read(refused, claim.code)
    assert refused.status_code == 400
    assert "Order amount: Ensure this value is greater than or equal to 0." in page
    assert code_kept
    assert has_autofocus(page, "order_amount")
    assert not Redemption.objects.exists()


def test_an_empty_code_is_refused_in_a_sentence_in_chinese(clerk):
    refused = clerk.post("/store/check/", {"code": "  "}, **ZH)

    page = refused.content.decode()
    assert refused.status_code == 400
    result = page.split('id="result"')[1].split("</section>")[0]
    assert "券码或二维码：" in result
