"""`on_upgrade` tier benefits: granted once per member, tier and upgrade, after the
upgrade's commit, whatever route re-runs them (task, safety net, racing events)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from entitlements.models import Grant, TierBenefit
from entitlements.services.upgrades import upgrade_grants, upgrade_grants_missing, upgrade_key
from members import hooks
from members.models import EarningRule, Member, TierChange
from members.services import tiers_review
from tests.entitlements.factories import add_item, add_source, make_benefit, make_tier, matrix
from tests.members.factories import MemberFactory
from tests.utils import race, requires_postgresql

EVENTS = "/api/v1/members/{}/events"


@pytest.fixture
def program(db):
    """normal (0) → silver (1000) → gold (5000); a purchase earns 1 growth per yuan.
    Silver's welcome is a coupon, gold's a pack of two coffees and free shipping."""
    EarningRule.objects.create(code="purchase", event="purchase", growth_per_yuan=Decimal("1"))
    normal = make_tier("normal", 1, 0)
    silver = make_tier("silver", 2, 1000)
    gold = make_tier("gold", 3, 5000)
    silver_welcome = make_benefit(code="WELCOME-S", stock=10)
    coffee = make_benefit(code="COFFEE", stock=None)
    add_source(coffee, 10, per_member_limit=None)  # the pack holds two
    ship = make_benefit(code="FREE-SHIP", kind="privilege", stock=None, valid_days=30)
    gold_welcome = make_benefit(code="WELCOME-G", kind="pack", stock=None)
    add_item(gold_welcome, coffee, 2)
    add_item(gold_welcome, ship)
    matrix(silver, silver_welcome, period="lifetime", mode="on_upgrade")
    matrix(gold, gold_welcome, period="lifetime", mode="on_upgrade")
    matrix(gold, coffee, period="month", mode="claimable")  # not granted on upgrade
    return {"normal": normal, "silver": silver, "gold": gold}


@pytest.fixture
def events(partner_api):
    return partner_api(scopes=["members:events"])


def purchase(api, member: str, event_id: str, amount: str):
    body = {"event_id": event_id, "kind": "purchase", "amount": amount, "order_ref": event_id}
    response = api.post(EVENTS.format(member), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["effects"]


def sweep(*args: str) -> str:
    """The safety net's command; its output."""
    out = io.StringIO()
    call_command("benefits_upgrade_grant", *args, stdout=out)
    return out.getvalue()


def upgrade_grants_of(member: Member) -> list[tuple[str, str, str]]:
    return sorted(
        Grant.objects.filter(member=member, occasion="on_upgrade", parent__isnull=True)
        .values_list("benefit__code", "status", "dedupe_key")
        .order_by("id")
    )


def keys(member: Member) -> dict[str, str]:
    rows = {row.benefit.code: row.pk for row in TierBenefit.objects.select_related("benefit")}
    changes = {
        change.to_tier.code: change.pk
        for change in TierChange.objects.filter(member=member).select_related("to_tier")
    }
    return {
        "silver": upgrade_key(changes["silver"], rows["WELCOME-S"]),
        "gold": upgrade_key(changes["gold"], rows["WELCOME-G"]),
    }


@pytest.mark.django_db(transaction=True)
def test_two_upgrades_in_a_row_grant_each_tiers_welcome_once(program, events):
    member = MemberFactory(external_id="U1", tier=program["normal"])

    first = purchase(events, "U1", "e1", "1200.00")
    second = purchase(events, "U1", "e2", "4000.00")

    assert (first["tier_after"], second["tier_after"]) == ("silver", "gold")
    key = keys(member)
    assert upgrade_grants_of(member) == [
        ("WELCOME-G", "fulfilled", key["gold"]),
        ("WELCOME-S", "fulfilled", key["silver"]),
    ]
    pack = Grant.objects.get(member=member, benefit__code="WELCOME-G")
    assert sorted(pack.children.values_list("benefit__code", "quantity")) == [
        ("COFFEE", 2),
        ("FREE-SHIP", 1),
    ]
    assert pack.via == "tier" and pack.actor_kind == "system"
    assert member.vouchers.count() == 3  # the silver coupon and two coffees

    # The task again, the safety net, and a third purchase (no upgrade): nothing more.
    again = upgrade_grants(change_ids=list(TierChange.objects.values_list("pk", flat=True)))
    assert (again.granted, again.existing) == (0, 2)
    assert sweep().startswith("granted 0, already granted 0, failed 0")
    purchase(events, "U1", "e3", "100.00")
    assert Grant.objects.filter(member=member).count() == 2 + 2  # two welcomes, two children
    assert member.vouchers.count() == 3


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_racing_events_both_crossing_gold_grant_gold_welcome_once(program, events):
    member = MemberFactory(external_id="U2", tier=program["normal"])

    race(2, lambda i: purchase(events, "U2", f"race-{i}", "6000.00"))

    assert list(TierChange.objects.filter(member=member).values_list("to_tier__code")) == [
        ("gold",)
    ]
    assert [grant[:2] for grant in upgrade_grants_of(member)] == [("WELCOME-G", "fulfilled")]
    assert Grant.objects.filter(member=member, status="failed").count() == 0


@pytest.mark.django_db
def test_the_safety_net_grants_lost_upgrades_for_the_tier_reached_once(program, events):
    # Without a commit (the test's transaction) no upgrade task ran: both are "lost",
    # and the member is gold by now, yet silver's welcome is silver's upgrade's.
    member = MemberFactory(external_id="U3", tier=program["normal"])
    purchase(events, "U3", "e1", "1200.00")
    purchase(events, "U3", "e2", "4000.00")
    assert upgrade_grants_of(member) == []

    assert sweep("--dry-run") == "Would grant 2.\n"
    assert upgrade_grants_of(member) == []
    assert sweep().startswith("granted 2, already granted 0, failed 0")
    assert sweep().startswith("granted 0, already granted 0, failed 0")

    key = keys(member)
    assert upgrade_grants_of(member) == [
        ("WELCOME-G", "fulfilled", key["gold"]),
        ("WELCOME-S", "fulfilled", key["silver"]),
    ]


@pytest.mark.django_db(transaction=True)
def test_an_out_of_stock_welcome_fails_as_a_grant_not_the_event_and_is_retried(program, events):
    member = MemberFactory(external_id="U4", tier=program["normal"])
    source = TierBenefit.objects.get(benefit__code="WELCOME-S").benefit.sources.get()
    source.batch.vouchers.update(status="void")

    effects = purchase(events, "U4", "e1", "1500.00")

    assert effects["tier_after"] == "silver"
    assert list(
        Grant.objects.filter(member=member).values_list("benefit__code", "status", "failure")
    ) == [("WELCOME-S", "failed", "out_of_stock")]
    # Stock comes back: the safety net grants it, once.
    source.batch.vouchers.update(status="available")
    sweep()
    sweep()
    assert [grant[:2] for grant in upgrade_grants_of(member)] == [
        ("WELCOME-S", "failed"),
        ("WELCOME-S", "fulfilled"),
    ]


@pytest.mark.django_db
def test_a_refusal_about_the_member_is_not_retried_by_the_safety_net(program, events):
    # Gold welcomes with the same lifetime-once benefit as silver: the member had it.
    gold_row = TierBenefit.objects.get(benefit__code="WELCOME-G")
    gold_row.benefit = TierBenefit.objects.get(benefit__code="WELCOME-S").benefit
    gold_row.save()
    member = MemberFactory(external_id="U5", tier=program["normal"])
    purchase(events, "U5", "e1", "1200.00")
    purchase(events, "U5", "e2", "4000.00")

    for _run in range(3):
        sweep()

    assert sorted(
        Grant.objects.filter(member=member).values_list("benefit__code", "status", "failure")
    ) == [("WELCOME-S", "failed", "quota_exhausted"), ("WELCOME-S", "fulfilled", "")]


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_by_the_review_after_a_threshold_change_grants_the_welcome(program):
    member = MemberFactory(external_id="U6", tier=program["normal"])
    member.growth_entries.create(amount=700, occurred_at=member.created_at)
    program["silver"].threshold = 500
    program["silver"].save()

    tiers_review(everyone=True)
    tiers_review(everyone=True)

    assert [grant[:2] for grant in upgrade_grants_of(member)] == [("WELCOME-S", "fulfilled")]
    assert TierChange.objects.get(member=member).reason == "thresholds"


@pytest.mark.django_db(transaction=True)
def test_a_downgrade_grants_nothing(program):
    member = MemberFactory(external_id="U7", tier=program["gold"])
    change = TierChange.objects.create(
        member=member,
        from_tier=program["gold"],
        to_tier=program["silver"],
        reason="review",
        actor_kind="system",
        actor_label="system",
    )

    report = upgrade_grants(change_ids=[change.pk])

    assert (report.granted, Grant.objects.count()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_failing_upgrade_callback_breaks_neither_the_event_nor_the_others(
    program, events, monkeypatch, caplog
):
    def broken(change_ids):
        raise RuntimeError("broker down")

    monkeypatch.setattr(hooks, "_tier_upgrade_callbacks", [broken, *hooks._tier_upgrade_callbacks])
    member = MemberFactory(external_id="U8", tier=program["normal"])

    effects = purchase(events, "U8", "e1", "1200.00")

    assert effects["tier_after"] == "silver"
    assert [grant[:2] for grant in upgrade_grants_of(member)] == [("WELCOME-S", "fulfilled")]
    assert "broker down" in caplog.text


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_task_and_the_safety_net_racing_on_one_upgrade_grant_once(program):
    member = MemberFactory(external_id="U9", tier=program["silver"])
    change = TierChange.objects.create(
        member=member,
        from_tier=program["normal"],
        to_tier=program["silver"],
        reason="upgrade",
        actor_kind="system",
        actor_label="system",
    )

    results = race(
        6,
        lambda i: (
            upgrade_grants(change_ids=[change.pk]) if i % 2 else upgrade_grants_missing(days=1)
        ),
    )

    assert sum(report.granted for report in results) == 1
    assert [grant[:2] for grant in upgrade_grants_of(member)] == [("WELCOME-S", "fulfilled")]
    assert member.vouchers.count() == 1
