import datetime as dt

import pytest

from members import selectors
from members.models import Member, Tag
from members.services import member_upsert
from riskcontrol.core.errors import ValidationFailed
from tests.members.factories import TierFactory
from tests.utils import race, requires_postgresql

pytestmark = pytest.mark.django_db


def test_upsert_creates_then_updates_only_the_fields_given():
    gold = TierFactory(code="gold")
    member, created = member_upsert(
        external_id="M1",
        name="Ada",
        phone="+86 139-1234-5678",
        email="Ada@Example.com",
        birthday=dt.date(1990, 5, 1),
        tier="gold",
        tags=["vip"],
    )
    assert created

    again, created_again = member_upsert(external_id="M1", name="Ada L.")

    assert not created_again
    assert again.pk == member.pk
    again.refresh_from_db()
    assert again.name == "Ada L."
    assert selectors.member_phone(again) == "13912345678"
    assert selectors.member_email(again) == "ada@example.com"
    assert again.birthday == dt.date(1990, 5, 1)
    assert again.tier == gold
    assert [tag.code for tag in again.tags.all()] == ["vip"]


def test_none_clears_a_field():
    TierFactory(code="gold")
    member_upsert(
        external_id="M1", name="Ada", phone="13912345678", email="a@b.cn", tier="gold", tags=["x"]
    )

    member, _ = member_upsert(
        external_id="M1", name=None, phone=None, email=None, birthday=None, tier=None, tags=None
    )

    member.refresh_from_db()
    assert member.name == ""
    assert member.phone_sealed is None
    assert member.phone_index is None
    assert member.email_sealed is None
    assert member.tier is None
    assert member.tags.count() == 0


def test_tags_replace_and_unknown_codes_are_created():
    member_upsert(external_id="M1", tags=["a", "b"])

    member, _ = member_upsert(external_id="M1", tags=["b", "c", "c"])

    assert sorted(tag.code for tag in member.tags.all()) == ["b", "c"]
    assert sorted(Tag.objects.values_list("code", flat=True)) == ["a", "b", "c"]


def test_invalid_fields_raise_one_validation_error_and_write_nothing():
    with pytest.raises(ValidationFailed) as raised:
        member_upsert(external_id="M1", phone="123", email="nope", tier="missing")

    assert set(raised.value.errors) == {"phone", "email", "tier"}
    assert not Member.objects.exists()


def test_phone_and_email_are_found_through_the_blind_index():
    member, _ = member_upsert(external_id="M1", phone="13912345678", email="ada@example.com")
    member_upsert(external_id="M2", phone="13900000000")

    assert list(selectors.members_by_contact("139 1234 5678")) == [member]
    assert list(selectors.members_by_contact("+8613912345678")) == [member]
    assert list(selectors.members_by_contact("ADA@example.com")) == [member]
    assert list(selectors.members_by_contact("nothing")) == []


def test_contact_ciphertext_is_bound_to_its_member():
    from riskcontrol.crypto import DecryptionError

    first, _ = member_upsert(external_id="M1", phone="13912345678")
    second, _ = member_upsert(external_id="M2")
    Member.objects.filter(pk=second.pk).update(
        phone_sealed=first.phone_sealed, phone_index=first.phone_index
    )
    second.refresh_from_db()

    with pytest.raises(DecryptionError):
        selectors.member_phone(second)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13912345678", "139****5678"), ("+4420123456", "+44****3456"), ("654321", "65***21")],
)
def test_masks(phone, masked):
    member, _ = member_upsert(external_id="M1", phone=phone)

    assert selectors.member_phone_masked(member) == masked


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_a_new_member_create_exactly_one():
    results = race(20, lambda i: member_upsert(external_id="M-RACE", name=f"n{i}", tags=["t"]))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(1 for _member, created in results if created) == 1
    assert Member.objects.filter(external_id="M-RACE").count() == 1
    assert Member.objects.get().tags.count() == 1


def test_tag_codes_must_be_slugs_in_any_script():
    member, _ = member_upsert(external_id="M1", tags=["新客", "high_value"])
    assert sorted(tag.code for tag in member.tags.all()) == ["high_value", "新客"]

    with pytest.raises(ValidationFailed) as raised:
        member_upsert(external_id="M1", tags=["ok", "not ok!"])

    assert raised.value.errors == {"tags": ["Tag codes are letters, digits, '-' or '_': not ok!"]}
