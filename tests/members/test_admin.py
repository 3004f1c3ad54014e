import datetime as dt

import pytest
import tablib
from django.contrib.auth.models import User

from members import selectors
from members.models import Member, Tag, Tier
from members.resources import MemberResource
from members.services import member_upsert
from riskcontrol.models import AuditEvent
from tests.members.factories import TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def test_member_list_masks_phone_and_email(operator):
    member_upsert(external_id="M1", phone="13912345678", email="ada@example.com")

    page = operator.get("/admin/members/member/").content.decode()

    assert "139****5678" in page
    assert "a***@example.com" in page
    assert "13912345678" not in page
    assert "ada@example.com" not in page


@pytest.mark.parametrize("term", ["139 1234 5678", "+8613912345678", "ADA@example.com", "M1"])
def test_search_by_external_id_or_exact_contact(operator, term):
    member_upsert(external_id="M1", phone="13912345678", email="ada@example.com")
    member_upsert(external_id="M2", phone="13900000000")

    response = operator.get("/admin/members/member/", {"q": term})

    assert [m.external_id for m in response.context["cl"].result_list] == ["M1"]


def test_search_respects_active_filters(operator):
    gold = TierFactory(code="gold")
    member_upsert(external_id="M1", phone="13912345678")

    response = operator.get(
        "/admin/members/member/", {"q": "13912345678", "tier__id__exact": gold.pk}
    )

    assert list(response.context["cl"].result_list) == []


def test_filters_by_tier_tag_and_stage(operator):
    TierFactory(code="gold")
    member_upsert(external_id="M1", tier="gold", tags=["vip"])
    member_upsert(external_id="M2", tags=["new"])
    vip = Member.objects.get(external_id="M1").tags.get()

    response = operator.get("/admin/members/member/", {"tags__id__exact": vip.pk})

    filters = {spec.title for spec in response.context["cl"].filter_specs}
    assert filters == {"tier", "lifecycle stage", "tags", "region"}
    assert [m.external_id for m in response.context["cl"].result_list] == ["M1"]


def add_form(**overrides):
    data = {
        "external_id": "M9",
        "name": "Ada",
        "phone": "139-1234-5678",
        "email": "",
        "birthday": "",
        "tier": "",
        "lifecycle_stage": "new",
    }
    data.update(overrides)
    return data


def test_operator_adds_a_member_and_the_phone_is_stored_encrypted(operator):
    response = operator.post("/admin/members/member/add/", add_form())

    assert response.status_code == 302
    member = Member.objects.get(external_id="M9")
    assert selectors.member_phone(member) == "13912345678"
    assert b"13912345678" not in bytes(member.phone_sealed)


def test_invalid_phone_is_a_field_error_in_the_admin(operator):
    response = operator.post("/admin/members/member/add/", add_form(phone="12ab"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == [
        "Enter a phone number of 6 to 15 digits."
    ]
    assert not Member.objects.exists()


def test_blank_phone_on_change_keeps_the_stored_one(operator):
    member, _ = member_upsert(external_id="M1", phone="13912345678")

    operator.post(
        f"/admin/members/member/{member.pk}/change/",
        add_form(external_id="M1", phone="", name="Renamed"),
    )

    member.refresh_from_db()
    assert member.name == "Renamed"
    assert selectors.member_phone(member) == "13912345678"


def test_changing_the_lifecycle_stage_in_the_console_is_kept_and_audited(operator):
    # given
    member, _ = member_upsert(external_id="M1", name="Ada", phone="13912345678")

    # when
    response = operator.post(
        f"/admin/members/member/{member.pk}/change/",
        add_form(external_id="M1", phone="", lifecycle_stage="loyal"),
    )

    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.lifecycle_stage == "loyal"
    event = AuditEvent.objects.get(subject="members.member", action="update")
    assert (event.subject_label, event.actor_label) == ("M1", "operator-user")
    assert event.changes == {"lifecycle_stage": {"from": "new", "to": "loyal"}}


def test_console_member_changes_record_personal_data_only_as_changed(operator):
    gold = TierFactory(code="gold")
    member, _ = member_upsert(external_id="M1", name="Ada", phone="13912345678")

    operator.post(
        f"/admin/members/member/{member.pk}/change/",
        add_form(external_id="M1", name="Grace", phone="13900000000", tier=gold.pk),
    )

    event = AuditEvent.objects.get(subject="members.member", action="update")
    # The tier is not edited in the member form (set by hand on its own page).
    assert event.changes == {"name": "changed", "phone": "changed"}
    assert "13900000000" not in str(event.changes) and "Grace" not in str(event.changes)


def test_a_new_member_from_the_console_keeps_its_lifecycle_stage(operator):
    response = operator.post("/admin/members/member/add/", add_form(lifecycle_stage="dormant"))

    assert response.status_code == 302
    member = Member.objects.get(external_id="M9")
    assert member.lifecycle_stage == "dormant"
    assert AuditEvent.objects.get(subject_id=str(member.pk)).action == "create"


def test_member_import_keeps_birthday_and_lifecycle_stage_and_records_who():
    user = User.objects.create_user("importer", is_staff=True)
    dataset = tablib.Dataset(
        ["M1", "Ada", "1990-05-17", "growing"],
        headers=["external_id", "name", "birthday", "lifecycle_stage"],
    )

    result = MemberResource().import_data(dataset, user=user, raise_errors=True)

    assert not result.has_errors()
    member = Member.objects.get(external_id="M1")
    assert (member.birthday, member.lifecycle_stage) == (dt.date(1990, 5, 17), "growing")
    assert AuditEvent.objects.get(subject_id=str(member.pk)).actor_label == "importer"


def test_tier_forms_save_through_the_services_and_keep_the_code(operator):
    Tier.objects.create(code="normal", name="Normal", rank=1, threshold=0)  # the lowest is 0
    response = operator.post(
        "/admin/members/tier/add/",
        {"code": "gold", "name": "Gold", "rank": "3", "threshold": "5000"},
    )
    tier = Tier.objects.get(code="gold")

    operator.post(
        f"/admin/members/tier/{tier.pk}/change/",
        {
            "code": "platinum",
            "name": "金卡",
            "rank": "4",
            "threshold": "6000",
            "retention": "4000",
            "description": "top",
        },
    )

    assert response.status_code == 302
    tier.refresh_from_db()
    assert (tier.code, tier.name, tier.rank, tier.description) == ("gold", "金卡", 4, "top")
    assert (tier.threshold, tier.retention) == (6000, 4000)
    events = AuditEvent.objects.filter(subject="members.tier").order_by("id")
    assert [(e.action, e.actor_label) for e in events] == [
        ("create", "operator-user"),
        ("update", "operator-user"),
    ]
    assert events[1].changes == {
        "name": {"from": "Gold", "to": "金卡"},
        "rank": {"from": 3, "to": 4},
        "threshold": {"from": 5000, "to": 6000},
        "retention": {"from": None, "to": 4000},
        "description": {"from": "", "to": "top"},
    }


def test_tag_forms_save_through_the_services(operator):
    operator.post("/admin/members/tag/add/", {"code": "vip", "name": "VIP"})
    tag = Tag.objects.get(code="vip")

    operator.post(f"/admin/members/tag/{tag.pk}/change/", {"name": "高价值客"})
    operator.post(f"/admin/members/tag/{tag.pk}/delete/", {"post": "yes"})

    assert not Tag.objects.exists()
    events = AuditEvent.objects.filter(subject="members.tag").order_by("id")
    assert [(e.action, e.subject_label) for e in events] == [
        ("create", "vip"),
        ("update", "vip"),
        ("delete", "vip"),
    ]
    assert events[1].changes == {"name": {"from": "VIP", "to": "高价值客"}}


def test_deleting_a_member_in_the_console_is_audited_by_external_id(operator):
    member, _ = member_upsert(external_id="M1", phone="13912345678")

    operator.post(
        "/admin/members/member/",
        {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"},
    )

    assert not Member.objects.exists()
    event = AuditEvent.objects.get(subject="members.member", action="delete")
    assert (event.subject_label, event.actor_label, event.changes) == ("M1", "operator-user", {})
