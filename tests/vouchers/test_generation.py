from decimal import Decimal

import pytest

from riskcontrol.core.actors import Actor
from riskcontrol.crypto import codec
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher, VoucherBatch
from vouchers.secrets import code_index, reveal_code
from vouchers.services import voucher_batch_create, voucher_batch_generate

pytestmark = pytest.mark.django_db


class Crash(Exception):
    pass


def test_generates_exactly_the_quantity_with_serials_codes_and_indexes():
    batch = make_batch(quantity=2_500, code="SPRING")

    vouchers = list(Voucher.objects.filter(batch=batch).order_by("sequence"))
    assert len(vouchers) == 2_500
    assert [v.sequence for v in vouchers] == list(range(1, 2_501))
    assert vouchers[0].serial == "SPRING-000001"
    assert vouchers[-1].serial == "SPRING-002500"
    assert len({bytes(v.secret_index) for v in vouchers}) == 2_500
    assert {v.status for v in vouchers} == {"available"}
    assert {v.key_id for v in vouchers} == {codec().current_key_id}
    first_code = reveal_code(vouchers[0])
    assert len(first_code) == 19  # XXXX-XXXX-XXXX-XXXX
    assert bytes(vouchers[0].secret_index) == code_index(first_code.replace("-", ""))
    batch.refresh_from_db()
    assert batch.generated_count == 2_500
    assert batch.generation == VoucherBatch.Generation.DONE
    assert batch.status == VoucherBatch.Status.ACTIVE


def test_a_crash_midway_then_a_rerun_gives_exactly_the_quantity_all_unique():
    batch = voucher_batch_create(
        code="CRASH",
        name="Crash test",
        face_value=Decimal("5.00"),
        valid_days=7,
        quantity=5_000,
        activate=True,
        actor=Actor.system("test"),
        generate=False,
    )
    chunks = []

    def crash_in_third_chunk(current):
        chunks.append(current.generated_count)
        if len(chunks) == 3:
            raise Crash("worker killed")

    with pytest.raises(Crash):
        voucher_batch_generate(batch_id=batch.pk, chunk_size=1_000, on_chunk=crash_in_third_chunk)

    batch.refresh_from_db()
    assert batch.generated_count == 2_000  # the third chunk rolled back with the crash
    assert Voucher.objects.filter(batch=batch).count() == 2_000
    assert batch.status == VoucherBatch.Status.DRAFT

    voucher_batch_generate(batch_id=batch.pk, chunk_size=1_000)
    voucher_batch_generate(batch_id=batch.pk, chunk_size=1_000)  # a second re-run is a no-op

    sequences = list(Voucher.objects.filter(batch=batch).values_list("sequence", flat=True))
    assert sorted(sequences) == list(range(1, 5_001))
    indexes = Voucher.objects.filter(batch=batch).values_list("secret_index", flat=True)
    assert len({bytes(index) for index in indexes}) == 5_000
    batch.refresh_from_db()
    assert (batch.generated_count, batch.generation, batch.status) == (5_000, "done", "active")


def test_the_admin_path_generates_in_a_task_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch = voucher_batch_create(
            code="TASK",
            name="Via task",
            face_value=Decimal("5.00"),
            valid_days=7,
            quantity=300,
            actor=Actor.system("test"),
        )

    assert len(callbacks) == 1
    batch.refresh_from_db()
    assert batch.generated_count == 300
    assert batch.generation == VoucherBatch.Generation.DONE
    assert batch.status == VoucherBatch.Status.DRAFT  # not asked to activate


def test_a_batch_without_quantity_is_an_empty_imported_batch():
    batch = make_batch(quantity=None, kind="card_secret")

    assert batch.source == VoucherBatch.Source.IMPORTED
    assert batch.code_format == VoucherBatch.CodeFormat.EXACT
    assert batch.generation == VoucherBatch.Generation.NONE
    assert batch.status == VoucherBatch.Status.ACTIVE
    assert not Voucher.objects.filter(batch=batch).exists()
