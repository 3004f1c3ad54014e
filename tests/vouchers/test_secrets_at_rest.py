import pytest

from members.services import member_upsert
from riskcontrol.crypto import DecryptionError
from tests.utils import dump_database
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher
from vouchers.secrets import reveal_code


@pytest.mark.django_db(transaction=True)
def test_a_full_dump_after_generating_and_claiming_holds_none_of_the_codes(partner_api):
    batch = make_batch(quantity=200, code="DUMP", per_member_limit=None)
    member_upsert(external_id="M1")
    api = partner_api(scopes=["vouchers:claim"])
    claimed = [
        api.post(
            "/api/v1/batches/DUMP/claims",
            {"member": "M1"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"k{i}",
        ).json()["code"]
        for i in range(5)
    ]
    codes = [reveal_code(v, batch) for v in Voucher.objects.filter(batch=batch)]

    dump = dump_database()

    assert "DUMP-000200" in dump  # the dump holds the vouchers
    assert set(claimed) <= set(codes)
    leaked = [
        code
        for code in codes
        if code in dump or code.replace("-", "") in dump or code.encode().hex() in dump.lower()
    ]
    assert leaked == []


@pytest.mark.django_db
def test_a_tampered_ciphertext_fails_to_decrypt():
    batch = make_batch(quantity=2)
    first, second = Voucher.objects.filter(batch=batch).order_by("sequence")
    tampered = bytearray(first.secret_ciphertext)
    tampered[-1] ^= 0x01
    Voucher.objects.filter(pk=first.pk).update(secret_ciphertext=bytes(tampered))
    # a ciphertext moved to another voucher's row is refused too (bound to batch + serial)
    Voucher.objects.filter(pk=second.pk).update(secret_ciphertext=bytes(first.secret_ciphertext))

    with pytest.raises(DecryptionError):
        reveal_code(Voucher.objects.get(pk=first.pk))
    with pytest.raises(DecryptionError):
        reveal_code(Voucher.objects.get(pk=second.pk))
