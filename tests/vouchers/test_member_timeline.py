"""Vouchers appear on the member page through members' timeline hook (vouchers
registers its source from VouchersConfig.ready(); members never imports vouchers)."""

import pytest
from django.contrib.auth.models import Permission, User

from members.services import member_upsert
from members.timeline import timeline_sources
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.admin.member_timeline import member_vouchers_source
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db


def test_vouchers_register_their_timeline_source():
    assert member_vouchers_source in list(timeline_sources)


def test_the_member_page_lists_the_members_vouchers_by_serial_never_by_code(console_client):
    member, _created = member_upsert(external_id="M1")
    make_batch(quantity=3, code="GOLD20", name="金卡20元券", per_member_limit=None)
    claimed = voucher_claim(batch_code="GOLD20", member_external_id="M1", actor=Actor.system())

    page = console_client("Operator").get(f"/admin/members/member/{member.pk}/change/")

    timeline = page.content.decode()[page.content.decode().index('id="member-timeline"') :]
    assert f"{claimed.voucher.serial} · 金卡20元券 · claimed" in timeline
    assert f"/admin/vouchers/voucher/{claimed.voucher.pk}/change/" in timeline
    assert f"/admin/vouchers/voucher/?member__id__exact={member.pk}" in timeline
    assert claimed.code not in page.content.decode()


def test_the_filtered_voucher_list_behind_the_link_shows_only_the_members_vouchers(
    console_client,
):
    member, _created = member_upsert(external_id="M1")
    member_upsert(external_id="M2")
    make_batch(quantity=3, code="GOLD20", per_member_limit=None)
    mine = voucher_claim(batch_code="GOLD20", member_external_id="M1", actor=Actor.system())
    voucher_claim(batch_code="GOLD20", member_external_id="M2", actor=Actor.system())

    response = console_client("Operator").get(
        "/admin/vouchers/voucher/", {"member__id__exact": member.pk}
    )

    assert response.status_code == 200
    assert [v.pk for v in response.context["cl"].result_list] == [mine.voucher.pk]


def test_a_user_without_view_voucher_sees_no_voucher_rows(console_client):
    member, _created = member_upsert(external_id="M1")
    make_batch(quantity=3, code="GOLD20", per_member_limit=None)
    claimed = voucher_claim(batch_code="GOLD20", member_external_id="M1", actor=Actor.system())
    client = console_client("Operator")
    operator = User.objects.get(username="operator-user")
    operator.groups.clear()
    operator.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="members", codename__startswith="view_")
    )

    page = client.get(f"/admin/members/member/{member.pk}/change/").content.decode()

    assert claimed.voucher.serial not in page
    assert "/admin/vouchers/voucher/?member__id__exact" not in page
