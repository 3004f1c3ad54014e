"""The leaner redemption path (issue 10, item 10): the store row cached per process but
checked in the statement that locks the voucher, and the voucher's UPDATE, its event and
the redemption written in one statement. No check may be weaker for it."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from members.services import member_upsert
from redemption.errors import NotRedeemableHere
from redemption.models import Redemption
from redemption.services import redemption_create, store_update
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import NotFound
from riskcontrol.rules.counters import counters_read
from riskcontrol.rules.guessing import guess_keys
from tests.redemption.factories import SYSTEM, claimed_code, make_store, rule_for
from vouchers.errors import InvalidTransition
from vouchers.models import Voucher, VoucherEvent
from vouchers.services import voucher_claim, voucher_mark_redeemed

pytestmark = pytest.mark.django_db
CLERK = Actor(kind="user", label="clerk", user_id=None)


def _second_claim(claim, member="M2"):
    """Another claimed voucher of the same batch (its code), for a second redemption."""
    member_upsert(external_id=member)
    return voucher_claim(
        batch_code=claim.voucher.batch.code, member_external_id=member, actor=SYSTEM
    )


def _deactivate(store):
    store_update(
        store=store,
        name=store.name,
        address=store.address,
        group=store.group,
        active=False,
        actor=SYSTEM,
    )


def test_a_store_deactivated_after_a_redemption_is_refused_at_once():
    store = make_store("LEAN1")
    first = claimed_code()
    second = _second_claim(first)
    redemption_create(store_code="LEAN1", code=first.code, actor=CLERK)  # caches the store

    _deactivate(store)

    with pytest.raises(NotFound, match="store"):
        redemption_create(store_code="LEAN1", code=second.code, actor=CLERK)
    assert Voucher.objects.get(pk=second.voucher.pk).status == "claimed"
    assert not Redemption.objects.filter(voucher=second.voucher).exists()
    assert not VoucherEvent.objects.filter(voucher=second.voucher, action="redeem").exists()


def test_an_unknown_code_at_a_store_deactivated_meanwhile_counts_no_guess(django_user_model):
    store = make_store("LEAN2")
    clerk = django_user_model.objects.create_user("lean-clerk")
    actor = Actor(kind="user", label="lean-clerk", user_id=clerk.pk)
    claim = claimed_code()
    redemption_create(store_code="LEAN2", code=claim.code, actor=actor)  # caches the store

    _deactivate(store)

    with pytest.raises(NotFound, match="store"):
        redemption_create(store_code="LEAN2", code="WRONG-0001", actor=actor)
    keys = guess_keys(user_id=clerk.pk, store_id=store.pk)
    assert counters_read(keys, window=600) == []  # no live counter: nothing was counted


def test_a_store_moved_to_another_group_is_checked_at_once():
    store = make_store("LEAN3", group="上海")
    first = claimed_code()
    second = _second_claim(first)
    rule_for(first.voucher.batch, store_scope="groups", store_groups=["上海"])
    redemption_create(store_code="LEAN3", code=first.code, actor=CLERK)  # caches the store

    store_update(store=store, name=store.name, address="", group="杭州", active=True, actor=SYSTEM)

    with pytest.raises(NotRedeemableHere):
        redemption_create(store_code="LEAN3", code=second.code, actor=CLERK)
    assert Voucher.objects.get(pk=second.voucher.pk).status == "claimed"


def test_a_redemption_at_a_known_store_reads_no_store_and_writes_in_one_statement():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no UPDATE inside WITH: it writes in three statements")
    make_store("LEAN4")
    first = claimed_code()
    second = _second_claim(first)
    redemption_create(store_code="LEAN4", code=first.code, actor=CLERK)

    with CaptureQueriesContext(connection) as queries:
        redemption = redemption_create(
            store_code="LEAN4", code=second.code, actor=CLERK, order_amount=Decimal("88.00")
        )

    statements = [query["sql"] for query in queries.captured_queries]
    assert not any("redemption_store" in sql and "FOR UPDATE" not in sql for sql in statements)
    writes = [sql for sql in statements if sql.startswith(("WITH", "UPDATE", "INSERT"))]
    assert len(writes) == 1 and writes[0].startswith("WITH")
    reads = [
        sql
        for sql in statements
        if sql.startswith("SELECT") and ("vouchers_" in sql or "redemption_" in sql)
    ]
    assert len(reads) == 1 and "FOR UPDATE" in reads[0]  # voucher, batch, rule, store check
    assert redemption.voucher.batch.code == first.voucher.batch.code
    stored = Redemption.objects.get(pk=redemption.pk)
    assert (stored.voucher_id, stored.store.code, stored.voucher_status_before) == (
        second.voucher.pk,
        "LEAN4",
        "claimed",
    )
    assert (stored.order_amount, stored.discount_amount) == (Decimal("88.00"), Decimal("10.00"))
    assert (stored.actor_label, stored.status, stored.redeemed_at) == (
        "clerk",
        "completed",
        redemption.redeemed_at,
    )
    voucher = Voucher.objects.get(pk=second.voucher.pk)
    assert (voucher.status, voucher.redeemed_at) == ("redeemed", redemption.redeemed_at)
    event = VoucherEvent.objects.get(voucher=voucher, action="redeem")
    assert (event.from_status, event.to_status, event.actor_kind, event.actor_label) == (
        "claimed",
        "redeemed",
        "user",
        "clerk",
    )
    assert event.context["store"] == "LEAN4" and event.context["method"] == "code"
    assert event.created_at is not None


def test_a_stale_status_writes_neither_the_event_nor_the_record():
    store = make_store("LEAN5")
    claim = claimed_code()
    stale = Voucher.objects.get(pk=claim.voucher.pk)
    Voucher.objects.filter(pk=stale.pk).update(status="frozen")
    record = Redemption(
        voucher=stale,
        batch=stale.batch,
        store=store,
        method="code",
        discount_amount=Decimal("0"),
        voucher_status_before="claimed",
        actor_label="clerk",
        redeemed_at=stale.claimed_at,
    )

    with pytest.raises(InvalidTransition), transaction.atomic():
        voucher_mark_redeemed(voucher=stale, actor=CLERK, at=stale.claimed_at, record=record)

    assert record.pk is None
    assert not Redemption.objects.exists()
    assert not VoucherEvent.objects.filter(voucher=stale, action="redeem").exists()
    assert Voucher.objects.get(pk=stale.pk).status == "frozen"
