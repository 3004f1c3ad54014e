"""The program file (PROGRAM.md): `manage.py program apply FILE [--dry-run]` and
`manage.py program export` for the sections issue 12 owns."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from members.models import EarningRule, Tier, TierPolicy
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import AuditEvent
from riskcontrol.programfile import ProgramInvalid, program_apply, sections
from tests.members.factories import TierFactory

pytestmark = pytest.mark.django_db

# PROGRAM.md's sections for this issue, verbatim (one long comment line kept).
# ruff: noqa: E501
PROGRAM = """
tier_policy:
  qualifying_months: 12     # growth value counts for this many months
  hold_months: 12           # a tier reached is kept at least this long
  downgrade: one_step       # one_step | to_earned | never (at the end of the hold)

tiers:                      # rank order; the lowest has threshold 0
  - {code: normal, name: 普通会员, threshold: 0}
  - {code: silver, name: 银卡会员, threshold: 1000, retention: 800}
  - {code: gold,   name: 金卡会员, threshold: 5000, retention: 4000}

earning_rules:
  - code: purchase
    event: purchase          # an event kind (API.md)
    points_per_yuan: 1       # or points: N per event
    growth_per_yuan: 1       # or growth: N per event
    tier_multipliers: {gold: 1.5}
    daily_cap: 20000         # points per member per day (optional)
    points_valid_months: 12  # earned points expire at the end of that month
    points_pending_days: 7   # purchase points become spendable after the refund window (0 = at once)
  - {code: checkin, event: check_in, points: 5, growth: 1}
"""


def _run(*args, stdin: str = "") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("program", *args, stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return out.getvalue(), err.getvalue()


def _write(tmp_path, text: str, name: str = "program.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_sections_are_registered_by_members_in_layer_order():
    names = [section.name for section in sections()]
    assert names[:3] == ["tier_policy", "tiers", "earning_rules"]  # higher apps' follow


def test_apply_program_md_then_export_then_apply_again_changes_nothing(tmp_path):
    out, _err = _run("apply", _write(tmp_path, PROGRAM))
    assert "create tiers gold" in out and "Applied 5 change(s)." in out

    tiers = list(
        Tier.objects.order_by("rank").values_list("code", "name", "rank", "threshold", "retention")
    )
    assert tiers == [
        ("normal", "普通会员", 10, 0, None),
        ("silver", "银卡会员", 20, 1000, 800),
        ("gold", "金卡会员", 30, 5000, 4000),
    ]
    purchase = EarningRule.objects.get(code="purchase")
    assert purchase.event == "purchase"
    assert purchase.points_per_yuan == Decimal("1") and purchase.growth_per_yuan == Decimal("1")
    assert purchase.points is None and purchase.growth is None
    assert purchase.tier_multipliers == {"gold": "1.5"}
    assert (purchase.daily_cap, purchase.points_valid_months, purchase.points_pending_days) == (
        20000,
        12,
        7,
    )
    checkin = EarningRule.objects.get(code="checkin")
    assert (checkin.event, checkin.points, checkin.growth) == ("check_in", 5, 1)
    policy = TierPolicy.objects.get(pk=1)
    assert (policy.qualifying_months, policy.hold_months, policy.downgrade) == (12, 12, "one_step")
    assert AuditEvent.objects.filter(subject="members.tier", action="create").count() == 3

    exported, _err = _run("export")
    assert "金卡会员" in exported  # readable, not \\u escapes
    out, _err = _run("apply", _write(tmp_path, exported, "exported.yaml"))
    assert out.strip() == "No changes."
    out, _err = _run("apply", _write(tmp_path, PROGRAM))
    assert out.strip() == "No changes."


def test_json_works_too_and_stdin(tmp_path):
    out, _err = _run("apply", "-", stdin='{"tiers": [{"code": "normal", "name": "普通会员"}]}')
    assert "create tiers normal" in out
    assert Tier.objects.get(code="normal").threshold == 0


def test_a_file_with_three_planted_errors_reports_all_three_and_writes_nothing(tmp_path):
    bad = (
        PROGRAM.replace("downgrade: one_step", "downgrade: sometimes")
        .replace("threshold: 1000, retention: 800", "threshold: 1000, retention: 1200")
        .replace("tier_multipliers: {gold: 1.5}", "tier_multipliers: {platinum: 1.5}")
    )
    with pytest.raises(CommandError) as raised:
        out = io.StringIO()
        err = io.StringIO()
        call_command("program", "apply", _write(tmp_path, bad), stdout=out, stderr=err)
    assert str(raised.value) == "The program file has 3 error(s); nothing was written."
    lines = err.getvalue().strip().splitlines()
    assert lines == [
        "tier_policy.downgrade: one of one_step, to_earned, never is required",
        "tiers[1].retention: must not be above the threshold (1000)",
        'earning_rules[0].tier_multipliers.platinum: no tier "platinum"',
    ]
    assert not Tier.objects.exists()
    assert not EarningRule.objects.exists()
    assert not TierPolicy.objects.exists()


def test_more_refusals_name_their_places():
    with pytest.raises(ProgramInvalid) as raised:
        program_apply(
            """
perks: []
tiers:
  - {code: normal, name: 普通会员, threshold: 10, colour: red}
  - {code: normal, name: ""}
earning_rules:
  - {code: c, event: check_in, points_per_yuan: 2}
  - {code: p, event: purchase, points: 1, points_per_yuan: 1, daily_cap: 0}
  - {code: x, event: jumped}
""",
            actor=Actor.system("test"),
        )
    assert raised.value.problems == [
        (
            "perks",
            f"unknown section (known: {', '.join(section.name for section in sections())})",
        ),
        (
            "tiers[0].colour",
            "unknown field (known: code, name, threshold, retention, description, rank)",
        ),
        ("tiers[1].code", '"normal" is named twice'),
        ("tiers[1].name", "a name of 1 to 64 characters is required"),
        (
            "earning_rules[0].points_per_yuan",
            "only purchase and refund events carry an amount; use points",
        ),
        ("earning_rules[1].points_per_yuan", "give either points or points_per_yuan, not both"),
        ("earning_rules[1].daily_cap", "a whole number from 1 to 1000000000 is required"),
        (
            "earning_rules[2].event",
            "an event kind is required (registered, login, check_in, purchase, refund, "
            "invite_accepted, cart_abandoned, profile_updated, or custom.<name>)",
        ),
    ]


def test_yaml_syntax_errors_say_where():
    with pytest.raises(ProgramInvalid) as raised:
        program_apply("tiers:\n  - {code: normal\n", actor=Actor.system("test"))
    ((place, message),) = raised.value.problems
    assert place.startswith("line 3")
    assert message.startswith("not valid YAML or JSON")


def test_dry_run_lists_the_changes_and_writes_nothing(tmp_path):
    TierFactory(code="gold", name="金卡", rank=30, threshold=4000)
    out, _err = _run("apply", _write(tmp_path, PROGRAM), "--dry-run")
    assert "Would create tiers normal" in out
    assert (
        "Would change tiers gold "
        "(name: 金卡 → 金卡会员, threshold: 4000 → 5000, retention: — → 4000)" in out
    )
    assert "Dry run: 5 change(s), nothing written." in out
    gold = Tier.objects.get()
    assert (gold.name, gold.threshold) == ("金卡", 4000)
    assert not EarningRule.objects.exists() and not TierPolicy.objects.exists()


def test_tiers_the_file_does_not_name_are_left_alone_and_ranks_may_swap(tmp_path):
    _run("apply", _write(tmp_path, PROGRAM))
    TierFactory(code="black_gold", name="黑金会员", rank=40, threshold=20000)
    out, _err = _run(
        "apply",
        "-",
        stdin="tiers:\n"
        "  - {code: normal, name: 普通会员, threshold: 0}\n"
        "  - {code: silver, name: 银卡会员, threshold: 1000, retention: 800, rank: 30}\n"
        "  - {code: gold, name: 金卡会员, threshold: 5000, retention: 4000, rank: 35}\n",
    )
    assert "Applied 2 change(s)." in out
    ranks = dict(Tier.objects.values_list("code", "rank"))
    assert ranks == {"normal": 10, "silver": 30, "gold": 35, "black_gold": 40}
    assert EarningRule.objects.count() == 2  # not in the file: untouched

    with pytest.raises(ProgramInvalid) as raised:
        program_apply(
            "tiers:\n  - {code: normal, name: n}\n"
            "  - {code: gold, name: g, threshold: 30000, rank: 40}\n",
            actor=Actor.system("test"),
        )
    assert raised.value.problems == [
        ("tiers[1].rank", 'rank 40 is already held by tier "black_gold"'),
    ]


def test_seed_demo_applies_the_demo_program_and_keeps_older_demo_tiers_members(tmp_path):
    from members.demo import PROGRAM_FILE
    from members.models import Member

    legacy = TierFactory(code="standard", name="普通会员", rank=10)
    TierFactory(code="black", name="黑金", rank=40)
    Member.objects.create(external_id="OLD", tier=legacy)

    call_command("seed_demo", force=True, stdout=io.StringIO())

    tiers = list(Tier.objects.order_by("rank").values_list("code", "name", "threshold"))
    assert tiers == [
        ("normal", "普通会员", 0),
        ("silver", "银卡会员", 1000),
        ("gold", "金卡会员", 5000),
        ("black_gold", "黑金会员", 20000),
    ]
    assert Member.objects.get(external_id="OLD").tier.code == "normal"
    assert Member.objects.get(external_id="M0001").tier.code == "gold"
    purchase = EarningRule.objects.get(code="purchase")
    assert (purchase.points_per_yuan, purchase.growth_per_yuan) == (1, 1)
    assert purchase.points_pending_days == 0
    checkin = EarningRule.objects.get(code="checkin")
    assert (checkin.event, checkin.points, checkin.growth) == ("check_in", 5, None)
    out, _err = _run("apply", str(PROGRAM_FILE))
    assert out.strip() == "No changes."


def test_a_policy_change_is_listed_without_a_code(tmp_path):
    _run("apply", _write(tmp_path, PROGRAM))
    out, _err = _run("apply", "-", "--dry-run", stdin="tier_policy: {hold_months: 6}\n")
    assert out.splitlines() == [
        "Would change tier_policy (hold_months: 12 → 6)",
        "Dry run: 1 change(s), nothing written.",
    ]
