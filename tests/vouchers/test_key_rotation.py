import io

import pytest
from django.core.management import call_command

from members import selectors as member_selectors
from members.services import member_upsert
from redemption.services import redemption_create, store_upsert
from riskcontrol.core.actors import Actor
from riskcontrol.crypto import DecryptionError, generate_key, key_id_of
from riskcontrol.models import IdempotencyKey
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher
from vouchers.secrets import reveal_code
from vouchers.selectors import voucher_find_by_code
from vouchers.services import voucher_claim, vouchers_reencrypt

pytestmark = pytest.mark.django_db
KEY_A, KEY_B = generate_key(), generate_key()


def test_a_batch_made_under_key_a_works_after_rotating_to_b_and_removing_a(settings, partner_api):
    # given: everything sealed under key A
    settings.VOUCHER_KEYS = f"a:{KEY_A}"
    batch = make_batch(quantity=25, code="ROT", per_member_limit=None)
    member_upsert(external_id="M1", phone="13912345678", email="ada@example.com")
    api = partner_api(scopes=["vouchers:claim"])
    claimed = api.post(
        "/api/v1/batches/ROT/claims", {"member": "M1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    ).json()
    codes = {v.serial: reveal_code(v) for v in Voucher.objects.filter(batch=batch)}

    # when: B is added in front, the rotation is interrupted after one chunk, then re-run
    settings.VOUCHER_KEYS = f"b:{KEY_B},a:{KEY_A}"
    interrupted = vouchers_reencrypt(chunk_size=10)
    assert next(interrupted) == 10
    interrupted.close()
    assert Voucher.objects.filter(key_id="a").count() == 15
    out = io.StringIO()
    call_command("rotate_voucher_keys", "--chunk-size", "10", stdout=out)
    call_command("rotate_voucher_keys", stdout=out)  # a second run finds nothing

    # then: with A removed, every secret still opens and the system still works
    settings.VOUCHER_KEYS = f"b:{KEY_B}"
    assert set(Voucher.objects.values_list("key_id", flat=True)) == {"b"}
    assert {v.serial: reveal_code(v) for v in Voucher.objects.filter(batch=batch)} == codes
    member = member_selectors.member_get(external_id="M1")
    assert member_selectors.member_phone(member) == "13912345678"
    assert member_selectors.member_email(member) == "ada@example.com"
    assert key_id_of(IdempotencyKey.objects.get().response_body) == "b"
    replay = api.post(
        "/api/v1/batches/ROT/claims", {"member": "M1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert replay.json() == claimed
    fresh = voucher_claim(batch_code="ROT", member_external_id="M1", actor=Actor.system())
    assert fresh.code == codes[fresh.voucher.serial]
    assert voucher_find_by_code(claimed["code"]).serial == claimed["voucher"]["serial"]
    store_upsert(code="S001", name="Store")
    redemption = redemption_create(store_code="S001", code=claimed["code"], actor=Actor.system())
    assert redemption.voucher.serial == claimed["voucher"]["serial"]
    assert "Nothing left under older keys" in out.getvalue()


def test_without_rotation_removing_the_old_key_fails_clearly(settings):
    settings.VOUCHER_KEYS = f"a:{KEY_A}"
    batch = make_batch(quantity=1)
    settings.VOUCHER_KEYS = f"b:{KEY_B}"

    with pytest.raises(DecryptionError, match="key id 'a'"):
        reveal_code(Voucher.objects.get(batch=batch))


def test_the_rotation_reports_every_table_it_rotates_stored_api_responses_included(
    settings, partner_api
):
    # given: a voucher, a member's contacts and a stored API response under key A
    settings.VOUCHER_KEYS = f"a:{KEY_A}"
    make_batch(quantity=2, code="REP", per_member_limit=None)
    member_upsert(external_id="M1", phone="13912345678")
    api = partner_api(scopes=["vouchers:claim"])
    api.post(
        "/api/v1/batches/REP/claims", {"member": "M1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    settings.VOUCHER_KEYS = f"b:{KEY_B},a:{KEY_A}"
    out = io.StringIO()

    # when
    call_command("rotate_voucher_keys", stdout=out)

    # then: each table is named with what it had to do, and none is left behind
    report = out.getvalue()
    assert "stored API responses (riskcontrol_idempotencykey): 1 to re-encrypt" in report
    assert "member contacts (members_member): 1 to re-encrypt" in report
    assert "voucher codes (vouchers_voucher): 2 to re-encrypt" in report
    assert (
        "Nothing left under older keys (0 rows in riskcontrol_idempotencykey, members_member, "
        "vouchers_voucher)." in report
    )
    assert "13912345678" not in report
