"""The claim query's plan on a batch claimed straight after generation (issue 9, item 18).

A freshly written table has no statistics; unless generation ends by analyzing what it
wrote, the planner picks the batch/status index and sorts the whole batch for every
claim. Autovacuum is switched off for the table here, as where it is lagging.
"""

import io

import pytest
from django.db import ProgrammingError, connection
from django.utils import timezone

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.services.claims import _TAKE_NEXT_AVAILABLE

pytestmark = pytest.mark.django_db(transaction=True)

QUANTITY = 100_000
IMPORTED = 100_000


@pytest.fixture
def autovacuum_off():
    if connection.vendor != "postgresql":
        pytest.skip("Planner statistics and autovacuum are PostgreSQL's.")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE vouchers_voucher SET (autovacuum_enabled = false)")
        try:
            # Forget what earlier tests left: the table starts with no statistics at all.
            cursor.execute("DELETE FROM pg_statistic WHERE starelid = 'vouchers_voucher'::regclass")
        except ProgrammingError:
            cursor.execute("ALTER TABLE vouchers_voucher RESET (autovacuum_enabled)")
            pytest.skip("Clearing planner statistics needs a PostgreSQL superuser.")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE vouchers_voucher RESET (autovacuum_enabled)")


def _claim_plan(batch_id: int) -> str:
    """The plan of the claim statement exactly as the service issues it (not run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + _TAKE_NEXT_AVAILABLE, [1, "", "{}", timezone.now(), None, batch_id]
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_batch_claimed_straight_after_generation_uses_the_available_voucher_index(
    autovacuum_off,
):
    batch = make_batch(QUANTITY, per_member_limit=1)

    plan = _claim_plan(batch.pk)

    assert "voucher_available_idx" in plan, plan
    assert "Sort" not in plan, plan


def test_a_batch_claimed_straight_after_a_card_stock_import_uses_the_available_voucher_index(
    autovacuum_off,
):
    batch = make_batch(quantity=None, kind="card_secret", code="BIGSTOCK")
    data = "\n".join(["code", *(f"SUP-{n:08d}" for n in range(IMPORTED))]).encode()

    report = card_stock_import(
        batch=batch,
        open_file=lambda: io.BytesIO(data),
        file_name="big.csv",
        actor=Actor.system("t"),
    )

    assert report.imported == IMPORTED
    plan = _claim_plan(batch.pk)
    assert "voucher_available_idx" in plan, plan
    assert "Sort" not in plan, plan
