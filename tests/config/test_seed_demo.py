"""`manage.py seed_demo`: one command in `config` runs every app's demo data in layer order."""

import io
import re

import pytest
from django.core.management import call_command, get_commands

from members.models import Member
from redemption.models import Store, StoreStaff
from riskcontrol.models import PartnerClient
from vouchers.models import Voucher, VoucherBatch

pytestmark = pytest.mark.django_db

# What `make run` prints, with the fresh key blanked (it must never reach test output).
EXPECTED = """\
========================================================================
Quanyi demo — http://127.0.0.1:8000/admin/
  Operator      login: operator password: quanyi-operator
  Auditor       login: auditor  password: quanyi-auditor
  Store clerk   login: clerk    password: quanyi-clerk
  Store manager login: manager  password: quanyi-manager
  Store page (clerk at S001; manager at S001, S002): http://127.0.0.1:8000/store/
  Partner API key (new each run, earlier demo keys revoked):
    <key>
  Try: curl -H 'Authorization: Api-Key <key>' http://127.0.0.1:8000/api/v1/members/M0001
  Claim: curl -X POST -H 'Content-Type: application/json' -H 'Authorization: Api-Key <key>' \
-d '{"member": "M0001"}' http://127.0.0.1:8000/api/v1/batches/WELCOME10/claims
  Grant a tier benefit: curl -X POST -H 'Content-Type: application/json' -H 'Authorization: \
Api-Key <key>' -d '{"benefit": "COFFEE", "via": "tier"}' \
http://127.0.0.1:8000/api/v1/members/M0001/grants
  API docs: http://127.0.0.1:8000/api/v1/docs
========================================================================
"""


def seed() -> tuple[str, str]:
    out = io.StringIO()
    call_command("seed_demo", force=True, stdout=out)
    text = out.getvalue()
    key = re.search(r"Api-Key (\S+)'", text).group(1)
    return text.replace(key, "<key>"), key


def test_seed_demo_lives_in_config_and_nothing_is_left_in_analytics():
    commands = get_commands()

    assert commands["seed_demo"] == "config"
    assert "analytics" not in commands.values()


def test_seed_demo_prints_the_logins_and_a_fresh_key_and_loads_each_apps_data():
    # when
    text, _key = seed()

    # then
    assert text == EXPECTED
    assert set(VoucherBatch.objects.values_list("code", flat=True)) == {
        "WELCOME10",
        "GOLD20",
        "COFFEE-DEMO",  # the benefit catalog's own (entitlements/demo.py)
        "TEA-DEMO",
    }
    assert Voucher.objects.count() == 1500 + 700
    assert Member.objects.filter(external_id="M0001").exists()
    assert set(Store.objects.values_list("code", flat=True)) >= {"S001", "S002"}
    assert StoreStaff.objects.filter(user__username="manager").count() == 2
    assert PartnerClient.objects.filter(name="Demo partner", active=True).count() == 1


def test_seed_demo_runs_again_without_duplicating_and_with_a_new_key():
    _text, first_key = seed()
    counts = (Member.objects.count(), Voucher.objects.count(), Store.objects.count())

    text, second_key = seed()

    assert text == EXPECTED
    assert second_key != first_key
    assert (Member.objects.count(), Voucher.objects.count(), Store.objects.count()) == counts
