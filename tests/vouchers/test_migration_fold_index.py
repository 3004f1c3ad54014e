"""Migration 0007_fold_code_index re-indexes vouchers stored under their exact form."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from riskcontrol.crypto import codec
from vouchers.secrets import INDEX_PURPOSE, code_aad, code_index

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = ("vouchers", "0006_card_stock_jobs")
AFTER = ("vouchers", "0007_fold_code_index")


def _migrate(*targets):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return executor.loader.project_state(list(targets)).apps


@pytest.fixture
def before_folding():
    yield _migrate(BEFORE)
    _migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())  # back to the latest


def _voucher(apps, batch, sequence, code, index_form):
    serial = f"{batch.code}-{sequence:06d}"
    return apps.get_model("vouchers", "Voucher").objects.create(
        batch=batch,
        sequence=sequence,
        serial=serial,
        secret_ciphertext=codec().encrypt(code, aad=code_aad(batch.code, serial)),
        secret_index=codec().blind_index(index_form, purpose=INDEX_PURPOSE),
        key_id=codec().current_key_id,
    )


def test_vouchers_of_exact_batches_are_indexed_by_their_folded_code(before_folding, capsys):
    Batch = before_folding.get_model("vouchers", "VoucherBatch")
    generated = Batch.objects.create(code="GEN", name="g", face_value=1, quantity=1)
    stock = Batch.objects.create(
        code="OLD", name="s", kind="card_secret", code_format="exact", face_value=1
    )
    _voucher(before_folding, generated, 1, "ABCDEFGHJKMNPQRS", "ABCDEFGHJKMNPQRS")
    lone = _voucher(before_folding, stock, 1, "gift-0o1i", "gift-0o1i")
    twin = _voucher(before_folding, stock, 2, "abcd-efgh-jkmn-pqrs", "abcd-efgh-jkmn-pqrs")

    apps = _migrate(AFTER)

    Voucher = apps.get_model("vouchers", "Voucher")
    assert bytes(Voucher.objects.get(pk=lone.pk).secret_index) == code_index("GIFT0011")
    # the twin of a generated code keeps its index, and the operator is told its serial
    assert bytes(Voucher.objects.get(pk=twin.pk).secret_index) == bytes(twin.secret_index)
    assert "OLD-000002" in capsys.readouterr().out
