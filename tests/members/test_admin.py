import pytest

from members import selectors
from members.models import Member
from members.services import member_upsert
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
    assert filters == {"tier", "lifecycle stage", "tags"}
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
