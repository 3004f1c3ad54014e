"""Two imports racing with codes that read the same once folded: the database's unique
blind index (over the folded form) lets exactly one in (issue 9, item 3)."""

import io

import pytest

from riskcontrol.core.actors import Actor
from tests.utils import race, requires_postgresql
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.models import Voucher

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]
FORMS = ["gift-0o1i-card-7", "GIFT00IICARD7"]


def test_two_imports_of_one_folded_code_at_once_store_it_once():
    batches = [make_batch(quantity=None, kind="card_secret", code=f"RACE{i}") for i in (1, 2)]

    def import_one(index):
        data = f"code\n{FORMS[index]}\n".encode()
        return card_stock_import(
            batch=batches[index],
            open_file=lambda: io.BytesIO(data),
            file_name="s.csv",
            actor=Actor.system("test"),
        ).imported

    outcomes = race(2, import_one)

    assert Voucher.objects.filter(batch__in=batches).count() == 1
    assert sorted(outcome == 1 for outcome in outcomes) == [False, True], outcomes
