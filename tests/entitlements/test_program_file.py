"""The program file's `benefits` and `tier_benefits` sections (PROGRAM.md):
`manage.py program apply FILE [--dry-run]` and `manage.py program export`."""

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from entitlements.models import Benefit, BenefitFallback, BenefitSource, PackItem, TierBenefit
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import AuditEvent
from riskcontrol.programfile import ProgramInvalid, program_apply, sections
from tests.entitlements.factories import add_source, make_benefit, make_tier
from tests.members.factories import TierFactory
from tests.vouchers.factories import make_batch

pytestmark = pytest.mark.django_db

# PROGRAM.md's tiers, benefits and tier_benefits sections, verbatim.
# ruff: noqa: E501
PROGRAM = """
tiers:                      # rank order; the lowest has threshold 0
  - {code: normal, name: 普通会员, threshold: 0}
  - {code: silver, name: 银卡会员, threshold: 1000, retention: 800}
  - {code: gold,   name: 金卡会员, threshold: 5000, retention: 4000}

benefits:
  - code: COFFEE
    name: 咖啡兑换券
    kind: coupon             # coupon | card_secret | direct_topup | physical | service | privilege | pack
    sources: [COFFEE-A, COFFEE-B]   # voucher batch codes or supplier:<supplier>/<sku>, first with stock wins
    fallbacks: [TEA]         # equivalent benefits (通兑), tried in order when all sources are empty
    points_price: 500        # optional: exchangeable for points
    budget: "20000.00"       # optional: cost cap over all grants
    region: ""               # optional: province code; empty = everywhere
  - code: WELCOME
    name: 新会员礼包
    kind: pack
    items: [{benefit: COFFEE, quantity: 2}, {benefit: FREE-SHIP}]
  - {code: FREE-SHIP, name: 包邮特权, kind: privilege, valid_days: 30}

tier_benefits:               # the tier benefit matrix
  - {tier: gold, benefit: COFFEE, quota: 1, period: month, mode: claimable}
  - {tier: gold, benefit: WELCOME, quota: 1, period: lifetime, mode: on_upgrade}
  # period: day | week | month | quarter | year | lifetime
  # mode: claimable (the member takes it) | on_upgrade | each_period (granted at the start)
"""


@pytest.fixture
def named():
    """What PROGRAM.md names without defining: the batches COFFEE-A and COFFEE-B, and
    the benefit TEA (on its own batch)."""
    make_batch(5, code="COFFEE-A")
    make_batch(5, code="COFFEE-B")
    tea = make_benefit(code="TEA", stock=None)
    add_source(tea, 5, code="TEA-A")


def _run(*args, stdin: str = "") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("program", *args, stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return out.getvalue(), err.getvalue()


def _apply(text: str, *args: str) -> str:
    out, _err = _run("apply", "-", *args, stdin=text)
    return out


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ProgramInvalid) as raised:
        program_apply(text, actor=Actor.system("test"))
    return raised.value.problems


def test_the_sections_follow_the_members_ones():
    names = [section.name for section in sections()]
    assert names[:5] == ["tier_policy", "tiers", "earning_rules", "benefits", "tier_benefits"]


def test_apply_program_md_then_export_then_apply_again_changes_nothing(named):
    out = _apply(PROGRAM)

    assert "create benefits COFFEE" in out and "create tier_benefits gold/WELCOME" in out
    assert "Applied 8 change(s)." in out  # 3 tiers, 3 benefits, 2 matrix rows
    coffee = Benefit.objects.get(code="COFFEE")
    assert (coffee.name, coffee.kind, coffee.points_price, coffee.budget, coffee.region) == (
        "咖啡兑换券",
        "coupon",
        500,
        Decimal("20000.00"),
        "",
    )
    assert list(coffee.sources.values_list("batch__code", flat=True)) == ["COFFEE-A", "COFFEE-B"]
    assert list(coffee.fallback_links.values_list("fallback__code", flat=True)) == ["TEA"]
    welcome = Benefit.objects.get(code="WELCOME")
    assert list(welcome.items.values_list("item__code", "quantity")) == [
        ("COFFEE", 2),
        ("FREE-SHIP", 1),
    ]
    assert Benefit.objects.get(code="FREE-SHIP").valid_days == 30
    assert sorted(
        TierBenefit.objects.values_list("tier__code", "benefit__code", "quota", "period", "mode")
    ) == [
        ("gold", "COFFEE", 1, "month", "claimable"),
        ("gold", "WELCOME", 1, "lifetime", "on_upgrade"),
    ]
    assert AuditEvent.objects.filter(subject="entitlements.benefit", action="create").count() == 3

    exported, _err = _run("export")
    assert "咖啡兑换券" in exported and "tier_benefits:" in exported
    assert _apply(exported).strip() == "No changes."
    assert _apply(PROGRAM).strip() == "No changes."


def test_a_file_with_three_planted_errors_reports_all_three_and_writes_nothing(named):
    bad = (
        PROGRAM.replace("sources: [COFFEE-A, COFFEE-B]", "sources: [COFFEE-A, GOLD-X]")
        .replace("kind: privilege", "kind: perk")
        .replace("period: lifetime", "period: fortnight")
    )

    with pytest.raises(CommandError) as raised:
        call_command(
            "program", "apply", "-", stdout=io.StringIO(), stderr=(err := io.StringIO()),
            stdin=io.StringIO(bad),
        )  # fmt: skip

    assert str(raised.value) == "The program file has 3 error(s); nothing was written."
    assert err.getvalue().strip().splitlines() == [
        'benefits[0].sources[1]: no batch "GOLD-X"',
        "benefits[2].kind: one of coupon, card_secret, direct_topup, physical, service, "
        "privilege, pack is required",
        "tier_benefits[1].period: one of day, week, month, quarter, year, lifetime is required",
    ]
    assert list(Benefit.objects.values_list("code", flat=True)) == ["TEA"]
    assert not TierBenefit.objects.exists()
    assert not PackItem.objects.exists()


def test_a_supplier_source_is_not_supported_yet(named):
    problems = _problems(
        "benefits:\n  - {code: TOPUP, name: 话费, kind: direct_topup, sources: [supplier:SIM/TOPUP-CM-50]}\n"
    )
    assert problems == [
        (
            "benefits[0].sources[0]",
            "supplier products are not supported as sources yet (they come with the "
            "suppliers); name a voucher batch",
        )
    ]


def test_dry_run_lists_what_would_change_and_writes_nothing(named):
    _apply(PROGRAM)
    changed = PROGRAM.replace("points_price: 500", "points_price: 400").replace(
        "quota: 1, period: month", "quota: 2, period: month"
    )

    out = _apply(changed, "--dry-run")

    assert "Would change benefits COFFEE (points_price: 500 → 400)" in out
    assert "Would change tier_benefits gold/COFFEE (quota: 1 → 2)" in out
    assert "Dry run: 2 change(s), nothing written." in out
    assert Benefit.objects.get(code="COFFEE").points_price == 500


def test_lists_become_what_the_file_says_and_matrix_rows_keep_their_id(named):
    _apply(PROGRAM)
    row = TierBenefit.objects.get(benefit__code="COFFEE")
    changed = (
        PROGRAM.replace("sources: [COFFEE-A, COFFEE-B]", "sources: [COFFEE-B]")
        .replace("fallbacks: [TEA]", "fallbacks: []")
        .replace("{benefit: COFFEE, quantity: 2}, ", "")
        .replace(
            "quota: 1, period: month, mode: claimable", "quota: 1, period: month, mode: each_period"
        )
    )

    out = _apply(changed)

    assert "Applied 3 change(s)." in out
    coffee = Benefit.objects.get(code="COFFEE")
    assert list(coffee.sources.values_list("batch__code", flat=True)) == ["COFFEE-B"]
    assert not BenefitFallback.objects.exists()
    assert list(PackItem.objects.values_list("item__code", flat=True)) == ["FREE-SHIP"]
    assert TierBenefit.objects.get(pk=row.pk).mode == "each_period"
    assert BenefitSource.objects.filter(batch__code="COFFEE-A").count() == 0
    assert _apply(changed).strip() == "No changes."


def test_every_optional_field_survives_export_and_apply(named):
    _apply(PROGRAM)
    full = """
benefits:
  - code: VIDEO
    name: 视频月卡
    kind: card_secret
    face_value: "25.00"
    currency: CNY
    cost: "19.50"
    sources: [TEA-A]
    points_price: 900
    exchange_limit: 2
    exchange_period: year
    region: "310000"
    budget: 5000
    active: false
    active_from: 2026-12-01T00:00:00+08:00
    active_until: "2027-01-01T00:00:00"
    priority: 5
    description: 一个月的会员
    image_url: https://example.com/video.png
"""
    assert "create benefits VIDEO" in _apply(full)
    video = Benefit.objects.get(code="VIDEO")
    assert (video.cost, video.budget, video.exchange_period, video.active) == (
        Decimal("19.50"),
        Decimal("5000.00"),
        "year",
        False,
    )
    # Without a zone, a moment is platform time (Asia/Shanghai).
    assert video.active_until == dt.datetime(2027, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))

    exported, _err = _run("export")
    assert _apply(exported).strip() == "No changes."
    assert _apply(full).strip() == "No changes."


def test_more_refusals_name_their_places(named):
    make_tier("gold", 30, 5000)
    budgeted = make_benefit(code="CAPPED", stock=1, budget=Decimal("100.00"))
    Benefit.objects.filter(pk=budgeted.pk).update(budget_used=Decimal("60.00"))
    make_benefit(code="MUG", kind="physical", stock=None)

    problems = _problems(
        """
benefits:
  - {code: PACK1, name: 包, kind: pack, sources: [COFFEE-A], items: [{benefit: PACK1}, {benefit: NOPE, quantity: 0}]}
  - {code: C1, name: 券, kind: coupon, fallbacks: [PACK1, C1], valid_days: 3, colour: red, items: [{benefit: TEA}]}
  - {code: CAPPED, name: 限额, kind: coupon, budget: "50.00", region: "31", cost: "1.234"}
  - {code: C1, name: "", kind: coupon}
  - {code: GIFTS, name: 礼盒, kind: pack, items: [{benefit: MUG}]}
tier_benefits:
  - {tier: gold, benefit: MUG, mode: on_upgrade}
  - {tier: gold, benefit: GIFTS, mode: each_period, quota: 0}
  - {tier: platinum, benefit: TEA}
  - {tier: gold, benefit: TEA}
  - {tier: gold, benefit: TEA, mode: sometimes}
"""
    )

    assert problems == [
        ("benefits[0].sources", "a pack has items, not sources"),
        ("benefits[0].items[0].benefit", "a benefit cannot stand for itself"),
        ("benefits[0].items[1].benefit", 'no benefit "NOPE"'),
        ("benefits[0].items[1].quantity", "a whole number from 1 to 100 is required"),
        (
            "benefits[1].colour",
            "unknown field (known: code, name, kind, face_value, currency, cost, sources, "
            "fallbacks, points_price, exchange_limit, exchange_period, budget, region, "
            "segment, items, valid_days, active, active_from, active_until, priority, "
            "description, image_url)",
        ),
        ("benefits[1].valid_days", "only a privilege has a validity"),
        (
            "benefits[1].fallbacks[0]",
            '"PACK1" is a pack; a pack cannot be inside another or stand in',
        ),
        ("benefits[1].fallbacks[1]", "a benefit cannot stand for itself"),
        ("benefits[1].items", "only a pack has items"),
        ("benefits[2].cost", "a number of 0 or more with at most 2 decimals is required"),
        ("benefits[2].region", "a province code (6 digits ending in 0000) or empty"),
        ("benefits[2].budget", "below the 60.00 already used"),
        ("benefits[3].code", '"C1" is named twice'),
        ("benefits[3].name", "a name of 1 to 100 characters is required"),
        (
            "tier_benefits[0].mode",
            "MUG needs the member's address or account: it can only be claimable",
        ),
        ("tier_benefits[1].quota", "a whole number from 1 to 1000000 is required"),
        (
            "tier_benefits[1].mode",
            "GIFTS needs the member's address or account: it can only be claimable",
        ),
        ("tier_benefits[2].tier", 'no tier "platinum"'),
        ("tier_benefits[4]", '"gold" and "TEA" are named twice'),
        (
            "tier_benefits[4].mode",
            "one of claimable, on_upgrade, each_period is required",
        ),
    ]
    assert Benefit.objects.get(code="CAPPED").budget == Decimal("100.00")


def test_a_matrix_row_may_name_a_tier_of_the_database(named):
    TierFactory(code="gold", name="金卡", rank=30, threshold=5000)

    out = _apply("tier_benefits:\n  - {tier: gold, benefit: TEA, mode: each_period}\n")

    assert "create tier_benefits gold/TEA" in out
    row = TierBenefit.objects.get()
    assert (row.quota, row.period, row.mode) == (1, "month", "each_period")
