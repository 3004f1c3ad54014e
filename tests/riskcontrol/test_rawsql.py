"""`riskcontrol.core.rawsql`: instances built from hand-written SELECTs equal what the ORM
builds, JSON included, and the unmatched side of an outer join is None."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from members.models import Member, MemberEvent, Tier
from riskcontrol.core.rawsql import from_row, select_list
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

FIELDS = [field.attname for field in MemberEvent._meta.concrete_fields]


def _read(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_an_instance_read_by_hand_equals_the_orms_json_and_decimals_included():
    member = MemberFactory(external_id="M1")
    event = MemberEvent.objects.create(
        member=member,
        event_id="e-1",
        kind="purchase",
        occurred_at=timezone.now(),
        amount=Decimal("128.50"),
        order_ref="o-1",
        payload={"sku": ["A", "B"], "n": 2},
        effects={"points": 128},
    )

    row = _read(
        f"SELECT {select_list(MemberEvent, 'e')} FROM members_memberevent e WHERE e.id = %s",  # noqa: S608
        [event.pk],
    )
    built, end = from_row(MemberEvent, row)

    orm = MemberEvent.objects.get(pk=event.pk)
    assert end == len(FIELDS)
    assert [getattr(built, name) for name in FIELDS] == [getattr(orm, name) for name in FIELDS]
    assert built.payload == {"sku": ["A", "B"], "n": 2}
    assert built.amount == Decimal("128.50")
    assert built._state.adding is False


def test_the_unmatched_side_of_an_outer_join_is_none():
    member = MemberFactory(external_id="M2", tier=None)

    row = _read(
        f"SELECT {select_list(Member, 'm')}, {select_list(Tier, 't')} "  # noqa: S608
        "FROM members_member m LEFT JOIN members_tier t ON t.id = m.tier_id WHERE m.id = %s",
        [member.pk],
    )
    built, offset = from_row(Member, row)
    tier, _end = from_row(Tier, row, offset)

    assert built.external_id == "M2"
    assert tier is None
