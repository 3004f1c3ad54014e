"""The member program's console: the member page (points, next expiry, tier progress,
timeline), earning rules, the tier policy, tier thresholds and the read-only ledgers."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.admin import member_program_panel
from members.models import (
    EarningRule,
    GrowthEntry,
    Member,
    MemberEvent,
    PointsEntry,
    Tier,
    TierChange,
    TierPolicy,
)
from members.program import earning_rule_create, earning_rule_update
from riskcontrol.core.actors import Actor
from riskcontrol.models import AuditEvent
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=SHANGHAI)
SYSTEM = Actor.system("test")


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    """The clock stands at NOW from before the operator signs in (sessions expire)."""
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


@pytest.fixture
def tiers():
    return {
        "normal": Tier.objects.create(code="normal", name="普通会员", rank=1, threshold=0),
        "silver": Tier.objects.create(
            code="silver", name="银卡会员", rank=2, threshold=1000, retention=800
        ),
        "gold": Tier.objects.create(code="gold", name="金卡", rank=3, threshold=5000),
    }


def lot(member, amount, *, remaining=None, activates_at=None, expires_at=None, balance_after=0):
    return PointsEntry.objects.create(
        member=member,
        kind=PointsEntry.Kind.EARN,
        amount=amount,
        remaining=amount if remaining is None else remaining,
        balance_after=balance_after,
        activates_at=activates_at,
        expires_at=expires_at,
        **PointsEntry.actor_stamp(SYSTEM),
    )


@pytest.fixture
def silver_member(tiers, time_machine):
    """A silver member with 1,240 qualifying growth (and 500 from before the window),
    600 points: 300 spendable expiring 2026-12-31, 100 spendable expiring 2027-01-31,
    200 pending until 2026-12-17."""
    time_machine.move_to(NOW, tick=False)
    member = MemberFactory(
        external_id="M-SILVER",
        tier=tiers["silver"],
        points=600,
        growth_value=1740,
        tier_held_until=at(6, 30, year=2027),
        lifecycle_stage=Member.LifecycleStage.LOYAL,
        last_event_at=at(12, 9),
    )
    GrowthEntry.objects.create(member=member, amount=500, occurred_at=at(11, 1, year=2025))
    GrowthEntry.objects.create(member=member, amount=1000, occurred_at=at(3, 1))
    GrowthEntry.objects.create(member=member, amount=240, occurred_at=at(12, 9))
    end_of_december = dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    end_of_january = dt.datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    lot(member, 250, activates_at=at(1, 5), expires_at=end_of_december)
    lot(member, 100, remaining=50, activates_at=at(2, 5), expires_at=end_of_december)
    lot(member, 100, activates_at=at(3, 5), expires_at=end_of_january)
    lot(member, 200, activates_at=at(12, 17), expires_at=dt.datetime(2027, 12, 31, tzinfo=SHANGHAI))
    lot(member, 80, remaining=80, activates_at=at(1, 1), expires_at=at(11, 30))  # lapsed
    return member


def page_of(client, member) -> str:
    response = client.get(f"/admin/members/member/{member.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_member_page_shows_points_pending_and_next_expiry(operator, silver_member):
    page = page_of(operator, silver_member)

    assert "600 (spendable 400, pending 200)" in page
    assert "300 points on 2026-12-31" in page


def test_member_page_shows_tier_progress_held_until_and_stage(operator, silver_member):
    page = page_of(operator, silver_member)

    assert "1,240 of 5,000 to 金卡 (3,760 to go)" in page
    assert 'id="program-tier">银卡会员<' in page
    assert "2027-06-30 12:00" in page
    assert 'id="program-stage">loyal<' in page


def test_member_page_at_the_top_tier_says_so(operator, tiers, time_machine):
    time_machine.move_to(NOW, tick=False)
    member = MemberFactory(tier=tiers["gold"])
    GrowthEntry.objects.create(member=member, amount=6200, occurred_at=at(5, 1))

    page = page_of(operator, member)

    assert "6,200: already at the top tier, 金卡." in page


def test_member_without_a_tier_is_measured_against_the_first_tier_above_its_growth(
    operator, tiers, time_machine
):
    time_machine.move_to(NOW, tick=False)
    member = MemberFactory()
    GrowthEntry.objects.create(member=member, amount=40, occurred_at=at(5, 1))

    page = page_of(operator, member)

    assert "40 of 1,000 to 银卡会员 (960 to go)" in page
    assert "No points due to expire." in page


def test_timeline_merges_events_points_growth_and_tier_changes_newest_first(
    operator, tiers, time_machine
):
    time_machine.move_to(at(12, 1, 9), tick=False)
    member = MemberFactory(tier=tiers["normal"])
    MemberEvent.objects.create(
        member=member,
        event_id="E1",
        kind="purchase",
        occurred_at=at(12, 1, 9),
        amount=Decimal("1240.50"),
        order_ref="ORD-1",
        effects={"points": 1240, "growth": 1240},
        **MemberEvent.actor_stamp(SYSTEM),
    )
    time_machine.move_to(at(12, 1, 10), tick=False)
    lot(member, 1240, balance_after=1240, expires_at=dt.datetime(2027, 12, 31, tzinfo=SHANGHAI))
    time_machine.move_to(at(12, 1, 11), tick=False)
    TierChange.objects.create(
        member=member,
        from_tier=tiers["normal"],
        to_tier=tiers["silver"],
        reason=TierChange.Reason.UPGRADE,
        **TierChange.actor_stamp(SYSTEM),
    )
    GrowthEntry.objects.create(member=member, amount=1240, occurred_at=at(12, 1, 8))

    page = page_of(operator, member)

    timeline = page[page.index('id="member-timeline"') :]
    order = [
        timeline.index("普通会员 → 银卡会员 · upgraded by growth value"),
        timeline.index("+1240 points, balance 1,240 · expires 2027-12-31"),
        timeline.index("amount ¥1240.50 · order ORD-1 · points +1240 · growth value +1240"),
        timeline.index("+1240 growth value"),
    ]
    assert order == sorted(order)
    assert f"/admin/members/memberevent/?member__id__exact={member.pk}" in timeline
    assert f"/admin/members/pointsentry/?member__id__exact={member.pk}" in timeline
    assert f"/admin/members/tierchange/?member__id__exact={member.pk}" in timeline


def test_timeline_is_capped_at_the_newest_50_with_links_to_the_full_lists(operator, tiers):
    member = MemberFactory()
    start = at(1, 1)
    GrowthEntry.objects.bulk_create(
        GrowthEntry(member=member, amount=n + 1, occurred_at=start + dt.timedelta(days=n))
        for n in range(60)
    )

    page = page_of(operator, member)

    timeline = page[page.index('id="member-timeline"') :]
    assert timeline.count('class="timeline-growth"') == 50
    assert "+60 growth value" in timeline
    assert "+11 growth value" in timeline
    assert "+10 growth value<" not in timeline
    assert "The newest 50 items are shown." in timeline
    assert f"/admin/members/growthentry/?member__id__exact={member.pk}" in timeline


def test_the_panel_takes_the_same_few_queries_however_long_the_history(tiers, time_machine):
    time_machine.move_to(NOW, tick=False)
    user = User.objects.create_superuser("root", password="pw-root-123")
    small, large = MemberFactory(tier=tiers["silver"]), MemberFactory(tier=tiers["silver"])
    for member, n in ((small, 1), (large, 40)):
        for i in range(n):
            GrowthEntry.objects.create(member=member, amount=10, occurred_at=at(11, 1))
            lot(member, 10, expires_at=at(12, 31))
            MemberEvent.objects.create(
                member=member,
                event_id=f"{member.pk}-{i}",
                kind="check_in",
                occurred_at=at(11, 1),
                **MemberEvent.actor_stamp(SYSTEM),
            )
            TierChange.objects.create(
                member=member,
                to_tier=tiers["silver"],
                reason="manual",
                **TierChange.actor_stamp(SYSTEM),
            )
    counts = []
    for member in (small, large):
        fresh = Member.objects.get(pk=member.pk)
        with CaptureQueriesContext(connection) as queries:
            member_program_panel(member=fresh, user=user)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert counts[1] <= 12


def test_an_auditor_sees_the_member_page_read_only_with_its_timeline(console_client, silver_member):
    page = page_of(console_client("Auditor"), silver_member)

    assert "1,240 of 5,000 to 金卡" in page
    assert 'id="member-timeline"' in page


# --- Earning rules -----------------------------------------------------------------------


def rule_form(**overrides):
    data = {
        "code": "purchase",
        "name": "Purchases",
        "event": "purchase",
        "points": "",
        "points_per_yuan": "1",
        "growth": "",
        "growth_per_yuan": "1",
        "tier_multipliers": '{"gold": 1.5}',
        "daily_cap": "20000",
        "points_valid_months": "12",
        "points_pending_days": "7",
        "active": "on",
    }
    data.update(overrides)
    return data


def test_operator_adds_an_earning_rule_and_it_is_audited(operator, tiers):
    response = operator.post("/admin/members/earningrule/add/", rule_form())

    assert response.status_code == 302
    rule = EarningRule.objects.get(code="purchase")
    assert rule.points_per_yuan == Decimal("1") and rule.growth_per_yuan == Decimal("1")
    assert rule.tier_multipliers == {"gold": "1.5"}
    assert (rule.daily_cap, rule.points_valid_months, rule.points_pending_days) == (20000, 12, 7)
    audit = AuditEvent.objects.get(subject="members.earningrule", action="create")
    assert audit.subject_label == "purchase"
    assert audit.actor_label == "operator-user"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"points": "5"},
            "points_per_yuan",
            "Give points per event or points per yuan, not both.",
        ),
        (
            {"growth": "5"},
            "growth_per_yuan",
            "Give growth value per event or growth value per yuan, not both.",
        ),
        (
            {"points_per_yuan": "", "growth_per_yuan": ""},
            "points",
            "The rule earns nothing: give points or growth value, per event or per yuan.",
        ),
        (
            {"tier_multipliers": '{"platinum": 2}'},
            "tier_multipliers",
            "There is no tier with the code “platinum”.",
        ),
        (
            {"tier_multipliers": '{"gold": 0}'},
            "tier_multipliers",
            "The multiplier for “gold” must be a number above 0, such as 1.5.",
        ),
        (
            {"tier_multipliers": '{"gold": "lots"}'},
            "tier_multipliers",
            "The multiplier for “gold” must be a number above 0, such as 1.5.",
        ),
        (
            {"tier_multipliers": "[1.5]"},
            "tier_multipliers",
            'Write the multipliers as tier code and number pairs, e.g. {"gold": "1.5"}.',
        ),
        ({"event": "buy"}, "event", "Unknown event kind."),
        ({"points_per_yuan": "-1"}, "points_per_yuan", "Must be more than 0."),
    ],
)
def test_an_earning_rule_is_refused_with_a_sentence_on_the_field(
    operator, tiers, overrides, field, message
):
    response = operator.post("/admin/members/earningrule/add/", rule_form(**overrides))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field])
    assert not EarningRule.objects.exists()
    assert not AuditEvent.objects.filter(subject="members.earningrule").exists()


def test_an_earning_rule_for_a_custom_event_kind_is_accepted(operator, tiers):
    response = operator.post(
        "/admin/members/earningrule/add/",
        rule_form(
            code="review",
            event="custom.review_written",
            points="20",
            points_per_yuan="",
            growth_per_yuan="",
            tier_multipliers="",
        ),
    )

    assert response.status_code == 302
    assert EarningRule.objects.get(code="review").points == 20


def test_changing_an_earning_rule_records_what_changed(operator, tiers):
    rule = earning_rule_create(code="checkin", event="check_in", points=5, growth=1, actor=SYSTEM)

    response = operator.post(
        f"/admin/members/earningrule/{rule.pk}/change/",
        rule_form(
            code="ignored",
            event="check_in",
            points="8",
            points_per_yuan="",
            growth="1",
            growth_per_yuan="",
            tier_multipliers="",
            daily_cap="",
            points_valid_months="",
            points_pending_days="0",
        ),
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.code, rule.points) == ("checkin", 8)
    audit = AuditEvent.objects.get(subject="members.earningrule", action="update")
    assert audit.changes["points"] == {"from": 5, "to": 8}


def test_an_unchanged_earning_rule_records_nothing(tiers):
    rule = earning_rule_create(code="checkin", event="check_in", points=5, actor=SYSTEM)

    earning_rule_update(rule=rule, points=5, actor=SYSTEM)

    assert not AuditEvent.objects.filter(subject="members.earningrule", action="update").exists()


# --- Tier policy --------------------------------------------------------------------------


def test_the_tier_policy_list_opens_the_one_policy(operator):
    response = operator.get("/admin/members/tierpolicy/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/members/tierpolicy/1/change/"
    page = operator.get(response["Location"])
    assert page.status_code == 200
    assert not TierPolicy.objects.exists()  # showing the defaults writes nothing


def test_the_tier_policy_cannot_be_added_or_deleted(operator):
    TierPolicy.current()

    assert operator.get("/admin/members/tierpolicy/add/").status_code == 403
    assert operator.post("/admin/members/tierpolicy/1/delete/", {"post": "yes"}).status_code == 403
    assert TierPolicy.objects.count() == 1


def test_operator_changes_the_tier_policy_and_it_is_audited(operator):
    response = operator.post(
        "/admin/members/tierpolicy/1/change/",
        {"qualifying_months": "6", "hold_months": "3", "downgrade": "to_earned"},
    )

    assert response.status_code == 302
    policy = TierPolicy.objects.get()
    assert (policy.pk, policy.qualifying_months, policy.hold_months) == (1, 6, 3)
    assert policy.downgrade == "to_earned"
    audit = AuditEvent.objects.get(subject="members.tierpolicy")
    assert audit.changes["qualifying_months"] == {"from": 12, "to": 6}


def test_a_tier_policy_counting_no_months_is_refused(operator):
    response = operator.post(
        "/admin/members/tierpolicy/1/change/",
        {"qualifying_months": "0", "hold_months": "3", "downgrade": "never"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["qualifying_months"] == [
        "Growth value must count for at least 1 month."
    ]
    assert not TierPolicy.objects.exists()


# --- Tier thresholds ----------------------------------------------------------------------


def tier_form(**overrides):
    data = {"code": "gold", "name": "金卡", "rank": "3", "threshold": "5000", "retention": ""}
    data.update(overrides)
    return data


def test_a_tier_whose_threshold_does_not_rise_with_rank_is_refused(operator):
    Tier.objects.create(code="normal", name="普通", rank=1, threshold=0)
    Tier.objects.create(code="silver", name="银卡", rank=2, threshold=1000)

    response = operator.post("/admin/members/tier/add/", tier_form(threshold="800"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["threshold"] == [
        "Thresholds rise with rank: this tier must need more than 银卡 (1,000)."
    ]
    assert not Tier.objects.filter(code="gold").exists()


def test_a_tier_below_a_higher_one_must_need_less(operator):
    Tier.objects.create(code="normal", name="普通", rank=1, threshold=0)
    gold = Tier.objects.create(code="gold", name="金卡", rank=3, threshold=5000)

    response = operator.post(
        "/admin/members/tier/add/",
        tier_form(code="silver", name="银卡", rank="2", threshold="5000"),
    )

    assert response.context["adminform"].form.errors["threshold"] == [
        "Thresholds rise with rank: this tier must need less than 金卡 (5,000)."
    ]
    assert list(Tier.objects.values_list("pk", flat=True).exclude(code="normal")) == [gold.pk]


def test_the_lowest_tier_must_start_at_zero(operator):
    Tier.objects.create(code="silver", name="银卡", rank=2, threshold=1000)

    response = operator.post(
        "/admin/members/tier/add/", tier_form(code="normal", name="普通", rank="1", threshold="10")
    )

    assert response.context["adminform"].form.errors["threshold"] == [
        "The lowest tier starts at 0: every member reaches it, so its threshold is 0."
    ]


def test_a_retention_above_the_threshold_is_refused(operator):
    Tier.objects.create(code="normal", name="普通", rank=1, threshold=0)

    response = operator.post("/admin/members/tier/add/", tier_form(retention="6000"))

    assert response.context["adminform"].form.errors["retention"] == [
        "The growth value that keeps a tier cannot be more than its threshold."
    ]


def test_a_tier_in_order_is_added(operator):
    Tier.objects.create(code="normal", name="普通", rank=1, threshold=0)
    Tier.objects.create(code="silver", name="银卡", rank=2, threshold=1000)

    response = operator.post("/admin/members/tier/add/", tier_form(retention="4000"))

    assert response.status_code == 302
    gold = Tier.objects.get(code="gold")
    assert (gold.threshold, gold.retention) == (5000, 4000)


def test_changing_a_tier_checks_it_against_the_others_not_itself(operator):
    Tier.objects.create(code="normal", name="普通", rank=1, threshold=0)
    silver = Tier.objects.create(code="silver", name="银卡", rank=2, threshold=1000)

    response = operator.post(
        f"/admin/members/tier/{silver.pk}/change/",
        tier_form(code="silver", name="银卡", rank="2", threshold="1200"),
    )

    assert response.status_code == 302
    silver.refresh_from_db()
    assert silver.threshold == 1200


# --- Read-only ledgers --------------------------------------------------------------------


@pytest.fixture
def two_members_history(tiers):
    alice, bob = MemberFactory(external_id="ALICE"), MemberFactory(external_id="BOB")
    for member in (alice, bob):
        MemberEvent.objects.create(
            member=member,
            event_id=f"{member.external_id}-1",
            kind="check_in",
            occurred_at=at(12, 1),
            **MemberEvent.actor_stamp(SYSTEM),
        )
        MemberEvent.objects.create(
            member=member,
            event_id=f"{member.external_id}-2",
            kind="custom.review",
            occurred_at=at(12, 2),
            **MemberEvent.actor_stamp(SYSTEM),
        )
        lot(member, 5, balance_after=5)
        GrowthEntry.objects.create(member=member, amount=7, occurred_at=at(12, 1))
        TierChange.objects.create(
            member=member,
            from_tier=tiers["normal"],
            to_tier=tiers["silver"],
            reason="manual",
            **TierChange.actor_stamp(SYSTEM),
        )
    return alice, bob


@pytest.mark.parametrize("model", ["memberevent", "pointsentry", "growthentry", "tierchange"])
def test_ledgers_are_searched_by_member_external_id_and_read_only(
    operator, two_members_history, model
):
    response = operator.get(f"/admin/members/{model}/", {"q": "ALICE"})

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert {row.member.external_id for row in rows} == {"ALICE"}
    # The points ledger's "add" is the adjustment form (an entry through the service);
    # the other ledgers take no hand-made rows.
    assert response.context["has_add_permission"] is (model == "pointsentry")
    pk = rows[0].pk
    change = operator.get(f"/admin/members/{model}/{pk}/change/")
    assert change.status_code == 200
    assert change.context["has_change_permission"] is False


def test_member_events_filter_by_kind_including_custom_ones(operator, two_members_history):
    check_ins = operator.get("/admin/members/memberevent/", {"kind": "check_in"})
    custom = operator.get("/admin/members/memberevent/", {"kind": "custom"})

    assert {e.event_id for e in check_ins.context["cl"].result_list} == {"ALICE-1", "BOB-1"}
    assert {e.event_id for e in custom.context["cl"].result_list} == {"ALICE-2", "BOB-2"}


def test_points_entries_filter_by_kind_and_member(operator, two_members_history):
    alice, _bob = two_members_history

    response = operator.get(
        "/admin/members/pointsentry/", {"kind__exact": "earn", "member__id__exact": alice.pk}
    )

    assert [e.member_id for e in response.context["cl"].result_list] == [alice.pk]


def test_ledger_rows_cannot_be_changed_or_deleted(operator, two_members_history):
    entry = PointsEntry.objects.first()

    response = operator.post(f"/admin/members/pointsentry/{entry.pk}/change/", {"amount": "999999"})
    deleted = operator.post(f"/admin/members/pointsentry/{entry.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert deleted.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 5
