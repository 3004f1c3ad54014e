"""Bulk lifecycle changes at scale on PostgreSQL: set-based, never voucher by voucher."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from riskcontrol.core.actors import Actor
from tests.utils import requires_postgresql
from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher, VoucherEvent
from vouchers.services import card_stock_import_void, voucher_batch_freeze, voucher_batch_unfreeze

pytestmark = [requires_postgresql, pytest.mark.django_db]
OPERATOR = Actor(kind="user", label="op")


def test_freezing_a_100000_voucher_batch_is_a_few_set_based_statements():
    batch = make_batch(quantity=100_000, code="BIG")
    batch.vouchers.filter(sequence__lte=10).update(status="redeemed")

    with CaptureQueriesContext(connection) as queries:
        report = voucher_batch_freeze(batch=batch, actor=OPERATOR, reason="leak")

    assert (report.changed, report.skipped) == (99_990, {"redeemed": 10})
    assert batch.vouchers.filter(status="frozen", frozen_from="available").count() == 99_990
    assert VoucherEvent.objects.filter(batch=batch, action="freeze").count() == 99_990
    # 5 chunks of 20,000 x (savepoint, lock, events, update, release) + a handful:
    # no statement per voucher
    assert len(queries) < 40
    assert not [q for q in queries if "LIMIT 21" in q["sql"] or "LIMIT 1" in q["sql"]]

    restored = voucher_batch_unfreeze(batch=batch, actor=OPERATOR)

    assert restored.changed == 99_990
    assert batch.vouchers.filter(status="available").count() == 99_990


def test_voiding_an_imports_vouchers_is_set_based():
    batch = make_batch(quantity=30_000, code="IMP", kind="card_secret")
    job = CardStockImport.objects.create(batch=batch, file_name="wholesale-2026-11.csv")
    batch.vouchers.filter(sequence__lte=25_000).update(import_job=job)

    with CaptureQueriesContext(connection) as queries:
        report = card_stock_import_void(import_job=job, actor=OPERATOR, reason="file leaked")

    assert report.changed == 25_000
    assert Voucher.objects.filter(import_job=job, status="void").count() == 25_000
    assert batch.vouchers.filter(status="available").count() == 5_000
    assert VoucherEvent.objects.filter(action="void").count() == 25_000
    assert len(queries) < 20
