"""Growth value and tiers: upgrades, holds, reviews, manual tiers, threshold changes."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F

from members.models import GrowthEntry, Member, Tier, TierChange, TierPolicy
from members.program import tier_policy_update, tier_update
from members.services import member_tier_evaluate, member_tier_set, tiers_review
from members.tasks import tiers_review_task
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
SYSTEM = Actor.system("test")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
def tiers():
    """The demo ladder: normal 0 / silver 1,000 (keeps at 800) / gold 5,000 (4,000) /
    black-gold 20,000 (keeps at its threshold)."""
    return {
        tier.code: tier
        for tier in (
            Tier.objects.create(code="normal", name="普通会员", rank=1, threshold=0),
            Tier.objects.create(
                code="silver", name="银卡会员", rank=2, threshold=1000, retention=800
            ),
            Tier.objects.create(
                code="gold", name="金卡会员", rank=3, threshold=5000, retention=4000
            ),
            Tier.objects.create(code="black", name="黑金会员", rank=4, threshold=20000),
        )
    }


def policy(downgrade="one_step", qualifying_months=12, hold_months=12) -> TierPolicy:
    current = TierPolicy.current()
    current.downgrade = downgrade
    current.qualifying_months = qualifying_months
    current.hold_months = hold_months
    current.save()
    return current


def grow(member: Member, amount: int, when: dt.datetime) -> tuple[str | None, str | None]:
    """What an event does (events are another module's): under the member's row lock,
    a growth entry, the summary, then the upgrade check."""
    with transaction.atomic():
        locked = Member.objects.select_for_update(of=("self",)).get(pk=member.pk)
        GrowthEntry.objects.create(member=locked, amount=amount, occurred_at=when)
        Member.objects.filter(pk=locked.pk).update(growth_value=F("growth_value") + amount)
        return member_tier_evaluate(member=locked, now=when, actor=SYSTEM)


def history(member: Member) -> list[tuple[str | None, str | None, str]]:
    return [
        (
            change.from_tier.code if change.from_tier_id else None,
            change.to_tier.code if change.to_tier_id else None,
            change.reason,
        )
        for change in TierChange.objects.filter(member=member).order_by("id")
    ]


def test_growth_lifts_a_member_over_two_tiers_at_once(tiers):
    policy()
    member = MemberFactory(tier=tiers["normal"])

    assert grow(member, 999, at(2026, 1, 5, 10)) == ("normal", "normal")
    assert grow(member, 4201, at(2026, 1, 6, 10)) == ("normal", "gold")

    member.refresh_from_db()
    assert member.tier == tiers["gold"]
    assert member.growth_value == 5200
    assert member.tier_since == at(2026, 1, 6, 10)
    assert member.tier_held_until == at(2027, 1, 6, 10)
    assert history(member) == [("normal", "gold", "upgrade")]


def test_hold_then_one_step_downgrade_at_the_review(tiers):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))  # gold, held until 2026-01-10 12:00
    grow(member, 500, at(2025, 6, 1, 12))

    # Still held the minute before: nothing to review.
    before = tiers_review(now=at(2026, 1, 10, 11, 59))
    # At the end of the hold the 5,000 has left the 12-month window: 500 < 4,000 keeps.
    review = tiers_review(now=at(2026, 1, 10, 12))

    member.refresh_from_db()
    assert (before.reviewed, before.changed) == (0, 0)
    assert (review.reviewed, review.changed) == (1, 1)
    assert member.tier == tiers["silver"]  # one step, although 500 is below silver too
    assert member.tier_held_until == at(2027, 1, 10, 12)  # a new hold from the review
    assert history(member) == [("normal", "gold", "upgrade"), ("gold", "silver", "review")]


def test_review_is_idempotent(tiers):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))
    now = at(2026, 2, 1, 3)

    first = tiers_review(now=now)
    state = Member.objects.values("tier", "tier_held_until", "tier_since").get(pk=member.pk)
    second = tiers_review(now=now)

    assert (first.reviewed, first.changed) == (1, 1)
    assert (second.reviewed, second.changed) == (0, 0)
    assert Member.objects.values("tier", "tier_held_until", "tier_since").get(pk=member.pk) == state
    assert TierChange.objects.filter(member=member).count() == 2


def test_to_earned_goes_down_to_the_tier_growth_earns(tiers):
    policy("to_earned")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 20000, at(2025, 1, 10, 12))  # black-gold
    grow(member, 1500, at(2025, 9, 1, 12))

    tiers_review(now=at(2026, 1, 10, 12))

    member.refresh_from_db()
    assert member.tier == tiers["silver"]  # 1,500: two steps down at once
    assert history(member)[-1] == ("black", "silver", "review")


def test_retention_keeps_the_tier_and_starts_a_new_hold(tiers):
    policy("to_earned")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))
    grow(member, 4000, at(2025, 3, 1, 12))  # exactly gold's retention

    result = tiers_review(now=at(2026, 1, 10, 12))

    member.refresh_from_db()
    assert (result.reviewed, result.changed) == (1, 0)
    assert member.tier == tiers["gold"]
    assert member.tier_held_until == at(2027, 1, 10, 12)
    assert history(member) == [("normal", "gold", "upgrade")]


def test_never_keeps_the_tier(tiers):
    policy("never")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))

    tiers_review(now=at(2026, 1, 10, 12))

    member.refresh_from_db()
    assert member.tier == tiers["gold"]
    assert member.tier_held_until == at(2027, 1, 10, 12)
    assert len(history(member)) == 1


def test_the_lowest_tier_is_not_held(tiers):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 1000, at(2025, 1, 10, 12))  # silver

    tiers_review(now=at(2026, 1, 10, 12))  # 0 qualifying: silver -> normal
    member.refresh_from_db()

    assert member.tier == tiers["normal"]
    assert member.tier_held_until is None
    assert tiers_review(now=at(2027, 6, 1)).reviewed == 0


def test_refund_reduces_growth_but_never_lowers_the_tier_before_the_review(tiers):
    policy("one_step", qualifying_months=24)
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2026, 1, 10, 12))

    after_refund = grow(member, -2000, at(2026, 1, 12, 12))
    still_held = tiers_review(now=at(2026, 6, 1))
    member.refresh_from_db()

    assert after_refund == ("gold", "gold")
    assert member.growth_value == 3000
    assert member.tier == tiers["gold"]
    assert still_held.reviewed == 0
    assert history(member) == [("normal", "gold", "upgrade")]

    # At the review, 3,000 is below gold's retention of 4,000: one step down.
    tiers_review(now=at(2027, 1, 10, 12))
    member.refresh_from_db()
    assert member.tier == tiers["silver"]


def test_manual_tier_holds_until_its_end_then_growth_decides(tiers):
    policy("one_step")
    operator = Actor(kind="user", label="ops")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 1200, at(2026, 1, 5, 12))  # silver

    member_tier_set(
        member=member,
        tier=tiers["gold"],
        until=at(2026, 3, 1),
        reason="VIP 投诉补偿",
        actor=operator,
        now=at(2026, 1, 6, 9),
    )
    during = tiers_review(now=at(2026, 2, 28, 23, 59))
    member.refresh_from_db()
    assert during.reviewed == 0
    assert member.tier == tiers["gold"]
    assert member.tier_manual_until == at(2026, 3, 1)

    ended = tiers_review(now=at(2026, 3, 1))
    member.refresh_from_db()

    assert (ended.reviewed, ended.changed) == (1, 1)
    assert member.tier == tiers["silver"]  # not a floor: back to what 1,200 earns
    assert member.tier_manual_until is None
    assert member.tier_held_until == at(2027, 3, 1)
    assert history(member) == [
        ("normal", "silver", "upgrade"),
        ("silver", "gold", "manual"),
        ("gold", "silver", "manual_ended"),
    ]
    manual = TierChange.objects.get(member=member, reason="manual")
    assert (manual.note, manual.actor_label) == ("VIP 投诉补偿", "ops")


def test_growth_lifts_a_member_above_a_manual_tier(tiers):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    member_tier_set(
        member=member,
        tier=tiers["silver"],
        until=at(2026, 6, 1),
        reason="活动",
        actor=SYSTEM,
        now=at(2026, 1, 6, 9),
    )

    assert grow(member, 5000, at(2026, 2, 1, 12)) == ("silver", "gold")
    ended = tiers_review(now=at(2026, 6, 1))
    member.refresh_from_db()

    assert member.tier == tiers["gold"]
    assert member.tier_manual_until is None
    assert ended.reviewed == 0
    assert history(member) == [("normal", "silver", "manual"), ("silver", "gold", "upgrade")]


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"reason": " "}, "reason", "Say why the tier is set by hand."),
        ({"until": at(2026, 1, 1)}, "until", "The end of a manual tier must be in the future."),
        ({"until": None}, "until", "Choose the date the manual tier ends."),
        ({"reason": "补" * 201}, "reason", "Keep the reason under 200 characters."),
        ({"tier": Tier(code="ghost", name="Ghost", rank=99)}, "tier", "Choose an existing tier."),
    ],
)
def test_manual_tier_refusals(tiers, arguments, field, message):
    member = MemberFactory(tier=tiers["normal"])
    values = {"tier": tiers["gold"], "until": at(2026, 3, 1), "reason": "补偿", **arguments}

    with pytest.raises(ValidationFailed) as refused:
        member_tier_set(member=member, **values, actor=SYSTEM, now=at(2026, 1, 6))

    assert refused.value.errors == {field: [message]}
    member.refresh_from_db()
    assert member.tier == tiers["normal"]
    assert not TierChange.objects.exists()


def test_lowering_a_threshold_lifts_members_at_once(tiers, django_capture_on_commit_callbacks):
    policy()
    lifted = MemberFactory(tier=tiers["normal"])
    stays = MemberFactory(tier=tiers["normal"])
    with time_machine.travel(at(2026, 1, 5, 12), tick=False):
        grow(lifted, 3500, at(2026, 1, 5, 12))  # silver
        grow(stays, 2500, at(2026, 1, 5, 12))  # silver

    with (
        time_machine.travel(at(2026, 2, 1, 9), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tier_update(
            tier=tiers["gold"],
            name="金卡会员",
            rank=3,
            threshold=3000,
            retention=2400,
            actor=SYSTEM,
        )

    lifted.refresh_from_db()
    stays.refresh_from_db()
    assert lifted.tier == tiers["gold"]
    assert lifted.tier_held_until == at(2027, 2, 1, 9)
    assert history(lifted)[-1] == ("silver", "gold", "thresholds")
    assert stays.tier == tiers["silver"]
    assert history(stays) == [("normal", "silver", "upgrade")]


def test_raising_a_threshold_lowers_nobody_before_the_review(
    tiers, django_capture_on_commit_callbacks
):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    with time_machine.travel(at(2026, 1, 5, 12), tick=False):
        grow(member, 1200, at(2026, 1, 5, 12))  # silver, held until 2027-01-05 12:00

    with (
        time_machine.travel(at(2026, 2, 1, 9), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tier_update(
            tier=tiers["silver"],
            name="银卡会员",
            rank=2,
            threshold=2000,
            retention=1500,
            actor=SYSTEM,
        )
    member.refresh_from_db()
    assert member.tier == tiers["silver"]

    tiers_review(now=at(2027, 1, 5, 12))  # 0 qualifying < 1,500: one step down
    member.refresh_from_db()
    assert member.tier == tiers["normal"]


def test_a_name_change_does_not_enqueue_a_review(tiers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        tier_update(
            tier=tiers["gold"], name="金卡", rank=3, threshold=5000, retention=4000, actor=SYSTEM
        )

    assert callbacks == []


def test_partner_upsert_with_a_tier_is_recorded(tiers, partner_api):
    policy()
    api = partner_api(scopes=["members:write"])

    with time_machine.travel(at(2026, 1, 5, 12), tick=False):
        api.post("/api/v1/members", {"external_id": "M1", "tier": "silver"}, format="json")
        api.post("/api/v1/members", {"external_id": "M1", "tier": "silver"}, format="json")
        api.post("/api/v1/members", {"external_id": "M1", "name": "张三"}, format="json")

    member = Member.objects.get(external_id="M1")
    assert history(member) == [(None, "silver", "partner")]
    change = TierChange.objects.get(member=member)
    assert (change.actor_kind, change.actor_label) == ("partner", api.partner_client.name)
    assert member.tier_held_until == at(2027, 1, 5, 12)


def test_tier_api_answers_standing_next_tier_and_history(tiers, partner_api):
    policy()
    member = MemberFactory(external_id="M1", tier=tiers["normal"])
    with time_machine.travel(at(2026, 1, 5, 12), tick=False):
        grow(member, 1240, at(2026, 1, 5, 12))

    with time_machine.travel(at(2026, 1, 6, 12), tick=False):
        response = partner_api(scopes=["members:read"]).get("/api/v1/members/M1/tier")

    assert response.status_code == 200
    assert response.json() == {
        "tier": "silver",
        "growth_value": 1240,
        "qualifying_growth": 1240,
        "held_until": "2027-01-05T12:00:00+08:00",
        "next_tier": {"code": "gold", "growth_needed": 3760},
        "history": [
            {
                "from": "normal",
                "to": "silver",
                "reason": "upgrade",
                "at": "2026-01-05T12:00:00+08:00",
            }
        ],
    }


def test_tier_api_at_the_top_has_no_next_tier(tiers, partner_api):
    MemberFactory(external_id="M1", tier=tiers["black"])

    response = partner_api(scopes=["members:read"]).get("/api/v1/members/M1/tier")

    assert response.json()["next_tier"] is None
    assert response.json()["history"] == []


def test_tier_api_refusals(tiers, partner_api):
    MemberFactory(external_id="M1")

    unknown = partner_api(scopes=["members:read"]).get("/api/v1/members/NOPE/tier")
    no_scope = partner_api(scopes=["members:write"]).get("/api/v1/members/M1/tier")

    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "No member with this external id."
    assert no_scope.status_code == 403


def test_tiers_review_command(tiers, capsys):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))

    call_command("tiers_review", "--chunk", "10")
    call_command("tiers_review", "--everyone")

    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    assert capsys.readouterr().out.splitlines() == [
        "Members reviewed: 1; tier changes: 1.",
        "Members reviewed: 1; tier changes: 0.",
    ]


def test_review_in_chunks_covers_every_candidate(tiers):
    policy("one_step")
    members = [MemberFactory(tier=tiers["normal"]) for _ in range(5)]
    for member in members:
        grow(member, 1000, at(2025, 1, 10, 12))

    result = tiers_review(now=at(2026, 1, 10, 12), chunk=2)

    assert (result.reviewed, result.changed) == (5, 5)
    assert set(Member.objects.values_list("tier__code", flat=True)) == {"normal"}


def test_tiers_review_command_refuses_an_empty_chunk(tiers):
    with pytest.raises(CommandError, match=r"--chunk must be at least 1\."):
        call_command("tiers_review", "--chunk", "0")


def test_hourly_beat_runs_the_review(tiers, settings):
    policy("one_step")
    member = MemberFactory(tier=tiers["normal"])
    grow(member, 5000, at(2025, 1, 10, 12))

    with time_machine.travel(at(2026, 1, 10, 12), tick=False):
        tiers_review_task.delay()

    assert settings.CELERY_BEAT_SCHEDULE["members-tiers-review"]["task"] == tiers_review_task.name
    member.refresh_from_db()
    assert member.tier == tiers["silver"]


def test_a_longer_qualifying_window_lifts_members_at_once(
    tiers, django_capture_on_commit_callbacks
):
    policy()  # 12 qualifying months
    member = MemberFactory(tier=tiers["normal"])
    with time_machine.travel(at(2025, 1, 10, 12), tick=False):
        grow(member, 600, at(2025, 1, 10, 12))
    with time_machine.travel(at(2026, 1, 20, 12), tick=False):
        grow(member, 600, at(2026, 1, 20, 12))  # 600 qualify: still normal
    member.refresh_from_db()
    assert member.tier == tiers["normal"]

    with (
        time_machine.travel(at(2026, 2, 1, 9), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tier_policy_update(qualifying_months=24, hold_months=12, downgrade="one_step", actor=SYSTEM)

    member.refresh_from_db()
    assert member.tier == tiers["silver"]  # 1,200 qualify now
    assert history(member)[-1] == ("normal", "silver", "thresholds")
