"""One printed code, one voucher: a code whose exact or folded form matches any voucher
is a duplicate, at import and at generation, whatever the batches' formats (issue 9,
item 3). The blind index is taken over the folded form, under a unique constraint."""

import base64
import io
import os
import secrets

import pytest

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.secrets import reveal_code
from vouchers.selectors import voucher_find_by_code

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RFC4648 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _import(batch, *codes):
    data = "\n".join(["code", *codes]).encode()
    return card_stock_import(
        batch=batch,
        open_file=lambda: io.BytesIO(data),
        file_name="s.csv",
        actor=ACTOR,
        skip_rejected=True,
    )


def _as_printed_differently(code: str) -> str:
    """The same code as a supplier might deliver it: lower case, dashes elsewhere."""
    return "-".join(code[i : i + 2] for i in range(0, len(code), 2)).lower()


def test_a_card_secret_reading_like_a_generated_code_is_a_duplicate_at_import():
    generated = make_batch(quantity=1)
    printed = reveal_code(generated.vouchers.get())  # ABCD-EFGH-JKMN-PQRS
    stock = make_batch(quantity=None, kind="card_secret", code="STOCK")

    reports = [
        _import(stock, form)
        for form in (printed, printed.replace("-", ""), _as_printed_differently(printed))
    ]

    assert [report.counts["already_in_database"] for report in reports] == [1, 1, 1]
    assert not stock.vouchers.exists()
    assert voucher_find_by_code(printed).batch_id == generated.pk


def test_codes_that_read_the_same_once_folded_are_duplicates_within_a_file():
    stock = make_batch(quantity=None, kind="card_secret", code="STOCK")

    report = _import(stock, "Gift-0O1I-card", "GIFT00IICARD", "gift-oo-ll-card")

    assert report.imported == 1
    assert report.counts["duplicate_in_file"] == 2
    assert reveal_code(stock.vouchers.get()) == "Gift-0O1I-card"  # kept as delivered


def test_a_code_of_separators_only_is_refused():
    stock = make_batch(quantity=None, kind="card_secret", code="STOCK")

    report = _import(stock, "----", "OK-CODE-1")

    assert report.imported == 1
    assert report.counts["empty"] == 1


def test_generation_redraws_a_code_that_reads_like_an_imported_card_secret(monkeypatch):
    # given: a card secret that folds to ABCDEFGHJKMNPQRS, and a random source whose
    # first draw is exactly that code
    stock = make_batch(quantity=None, kind="card_secret", code="STOCK")
    assert _import(stock, "abcd-efgh-jkmn-pqrs").imported == 1
    wanted = base64.b32decode(b"ABCDEFGHJKMNPQRS".translate(bytes.maketrans(_CROCKFORD, _RFC4648)))
    draws = iter([wanted])
    monkeypatch.setattr(secrets, "token_bytes", lambda n: next(draws, None) or os.urandom(n))

    # when
    generated = make_batch(quantity=1)

    # then: the generated voucher got another code, and the printed code finds one voucher
    code = reveal_code(generated.vouchers.get())
    assert code.replace("-", "") != "ABCDEFGHJKMNPQRS"
    assert voucher_find_by_code("ABCD-EFGH-JKMN-PQRS").batch_id == stock.pk
    assert voucher_find_by_code(code).batch_id == generated.pk


def test_lookup_by_code_works_for_the_exact_and_the_folded_form():
    stock = make_batch(quantity=None, kind="card_secret", code="STOCK")
    _import(stock, "Gift-0O1I-card")
    voucher = stock.vouchers.get()

    assert voucher_find_by_code("Gift-0O1I-card") == voucher
    assert voucher_find_by_code("gift 0o1i card") == voucher
    assert voucher_find_by_code("GIFT00IICARD") == voucher
