"""The demo benefit catalog (`seed_demo`): applied through the program file on the demo
batches, idempotent, and grantable to the demo members as the README shows."""

import io

import pytest
from django.core.management import call_command

from entitlements.demo import PROGRAM_FILE
from entitlements.errors import QuotaExhausted
from entitlements.models import Benefit, Grant, TierBenefit
from entitlements.services import benefit_grant
from entitlements.services.periodic import period_grants
from riskcontrol.core.actors import Actor
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def seed() -> None:
    call_command("seed_demo", force=True, stdout=io.StringIO())


def test_the_demo_catalog_is_applied_once_and_again_changes_nothing():
    seed()
    counts = (Benefit.objects.count(), TierBenefit.objects.count(), Voucher.objects.count())
    seed()

    assert counts == (6, 8, 2200)
    assert (
        Benefit.objects.count(),
        TierBenefit.objects.count(),
        Voucher.objects.count(),
    ) == counts
    out = io.StringIO()
    call_command("program", "apply", str(PROGRAM_FILE), stdout=out)
    assert out.getvalue().strip() == "No changes."
    coffee = Benefit.objects.get(code="COFFEE")
    assert list(coffee.fallback_links.values_list("fallback__code", flat=True)) == ["TEA"]
    assert coffee.points_price == 300
    assert set(
        TierBenefit.objects.filter(tier__code="gold").values_list("benefit__code", "mode")
    ) == {
        ("COFFEE", "claimable"),
        ("FREE-SHIP", "each_period"),
        ("WELCOME-PACK", "on_upgrade"),
    }


def test_the_readme_grant_gives_the_gold_member_one_coffee_a_month():
    seed()
    actor = Actor.system("test")

    first = benefit_grant(member="M0001", benefit="COFFEE", via="tier", actor=actor)
    with pytest.raises(QuotaExhausted) as refused:
        benefit_grant(member="M0001", benefit="COFFEE", via="tier", actor=actor)

    assert first.grant.status == "fulfilled" and len(first.taken) == 1
    assert refused.value.extra["resets_at"]
    [gold_row, _black_gold_row] = period_grants()
    assert (gold_row.row.benefit.code, gold_row.report.granted) == ("FREE-SHIP", 1)  # M0001
    assert Grant.objects.filter(member__external_id="M0001", status="fulfilled").count() == 2
