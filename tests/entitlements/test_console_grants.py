"""Grants in the console: the list (filters, search by member, substitutions, packs, no
codes), the detail page, revoke with a required reason (refusals said per grant), and
the physical-gift fulfilment queue with the address on the gift's own page only."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from entitlements.models import Grant
from entitlements.services import benefit_grant
from members.models import Member
from riskcontrol.core.actors import Actor
from riskcontrol.models import AuditEvent
from tests.entitlements.factories import add_fallback, add_item, make_benefit
from tests.members.factories import MemberFactory
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
LIST = "/admin/entitlements/grant/"
ADDRESS = "上海市静安区南京西路1号 张三 13912345678"


def _grant(benefit, member="M1", **kwargs):
    if not Member.objects.filter(external_id=member).exists():
        MemberFactory(external_id=member)
    return benefit_grant(member=member, benefit=benefit, via="operator", actor=ACTOR, **kwargs)


def _gift():
    gift = make_benefit(stock=None, code="MUG", name="保温杯", kind="physical")
    return _grant(gift, address=ADDRESS).grant


def _action(client, action: str, grants, **extra):
    return client.post(
        LIST,
        {"action": action, "_selected_action": [str(g.pk) for g in grants], **extra},
        follow=True,
    )


def test_the_list_filters_searches_and_never_shows_a_code(console_client):
    asked = make_benefit(stock=None, code="TOP", name="热门券")
    fallback = make_benefit(stock=3, code="EQUIV", name="通兑券")
    add_fallback(asked, fallback)
    substituted = _grant(asked, "M1")
    other = _grant(fallback, "M2")
    client = console_client("Operator")

    found = client.get(LIST + "?q=M1")
    page = found.content.decode()

    assert [g.pk for g in found.context["cl"].result_list] == [substituted.grant.pk]
    assert "instead of 热门券" in page
    assert substituted.taken[0].code not in page
    assert other.taken[0].code not in client.get(LIST).content.decode()
    by_route = client.get(LIST + "?via__exact=points")
    assert list(by_route.context["cl"].result_list) == []
    by_benefit = client.get(f"{LIST}?benefit__id__exact={fallback.pk}&status__exact=fulfilled")
    assert {g.pk for g in by_benefit.context["cl"].result_list} == {
        substituted.grant.pk,
        other.grant.pk,
    }
    since = timezone.localtime() - dt.timedelta(days=1)
    by_date = client.get(LIST, {"created_at__gte": since.isoformat()})
    assert len(by_date.context["cl"].result_list) == 2


def test_revoke_needs_a_reason_then_voids_the_coupon(console_client):
    coffee = make_benefit(stock=3, code="COFFEE", name="咖啡券")
    result = _grant(coffee)
    client = console_client("Operator")

    asked = _action(client, "revoke", [result.grant])
    done = _action(client, "revoke", [result.grant], confirmed="yes", reason="误发")

    assert "Revoke grants?" in asked.content.decode()
    assert f"#{result.grant.pk} COFFEE → M1: revoked." in done.content.decode()
    result.grant.refresh_from_db()
    assert (result.grant.status, result.grant.revoke_reason) == ("revoked", "误发")
    assert Voucher.objects.get(pk=result.taken[0].voucher.pk).status == "void"


def test_a_delivered_card_secret_is_refused_by_name_and_the_others_are_revoked(console_client):
    cards = make_batch(quantity=None, kind="card_secret", code="CARDS1")
    data = b"code\nKM-ABCD-0001\nKM-ABCD-0002\n"
    card_stock_import(
        batch=cards, open_file=lambda: io.BytesIO(data), file_name="s.csv", actor=ACTOR
    )
    video = make_benefit(stock=None, code="VIDEO", name="视频月卡", kind="card_secret")
    video.sources.create(batch=cards, position=0)
    coffee = make_benefit(stock=3, code="COFFEE", name="咖啡券")
    card = _grant(video).grant
    coupon = _grant(coffee).grant
    client = console_client("Operator")

    page = _action(
        client, "revoke", [card, coupon], confirmed="yes", reason="活动取消"
    ).content.decode()

    assert (
        f"#{card.pk} VIDEO → M1: A delivered card secret cannot be revoked: the member has "
        "seen it." in page
    )
    assert f"#{coupon.pk} COFFEE → M1: revoked." in page
    assert Grant.objects.get(pk=card.pk).status == "fulfilled"
    assert Grant.objects.get(pk=coupon.pk).status == "revoked"


def test_the_detail_page_of_a_pack_lists_its_items_and_revokes_with_a_reason(console_client):
    pack = make_benefit(stock=None, code="WELCOME", name="迎新礼包", kind="pack")
    add_item(pack, make_benefit(stock=2, code="COFFEE", name="咖啡券"))
    add_item(pack, make_benefit(stock=2, code="TEA", name="茶饮券"))
    parent = _grant(pack).grant
    client = console_client("Operator")

    page = client.get(f"{LIST}{parent.pk}/change/").content.decode()
    child = parent.children.order_by("id").first()
    child_page = client.get(f"{LIST}{child.pk}/change/").content.decode()
    refused = client.post(f"{LIST}{parent.pk}/revoke/", {"reason": ""})
    client.post(f"{LIST}{parent.pk}/revoke/", {"reason": "重复发放"})

    assert "咖啡券" in page and "茶饮券" in page
    assert "This grant can be revoked." in page
    assert "Revoke the pack it belongs to instead." in child_page
    assert "Please say why." in refused.content.decode()
    assert set(Grant.objects.values_list("status", flat=True)) == {"revoked"}


def test_the_queue_lists_gifts_without_addresses_and_the_gift_page_shows_it_to_operators(
    console_client,
):
    gift = _gift()
    operator, auditor = console_client("Operator"), console_client("Auditor")

    queue = operator.get(LIST + "fulfilment/").content.decode()
    page = operator.get(f"{LIST}{gift.pk}/fulfilment/").content.decode()
    hidden = auditor.get(f"{LIST}{gift.pk}/fulfilment/").content.decode()
    listed = operator.get(LIST).content.decode()
    detail = operator.get(f"{LIST}{gift.pk}/change/").content.decode()

    assert "保温杯" in queue and ADDRESS not in queue
    assert ADDRESS in page
    assert ADDRESS not in hidden and "Only operators who handle grants see the address." in hidden
    assert ADDRESS not in listed and ADDRESS not in detail
    # Each reading is recorded, with the reader and never the address itself.
    reads = AuditEvent.objects.filter(
        subject="entitlements.grant", subject_id=str(gift.pk), action="read_address"
    )
    assert reads.count() == 1
    assert reads.get().user.username == "operator-user"
    assert ADDRESS not in str(list(reads.values()))


def test_shipping_asks_for_confirmation_then_delivering_fulfils_the_gift(console_client):
    gift = _gift()
    client = console_client("Operator")
    url = f"{LIST}{gift.pk}/fulfilment/"

    empty = client.post(url, {"step": "ship", "tracking_number": ""})
    asked = client.post(url, {"step": "ship", "tracking_number": "SF1234567890"})
    gift.refresh_from_db()
    assert "Enter the parcel&#x27;s tracking number." in empty.content.decode()
    assert "Yes, mark shipped" in asked.content.decode()
    assert gift.fulfilment == "waiting"

    client.post(url, {"step": "ship", "tracking_number": "SF1234567890", "confirmed": "yes"})
    gift.refresh_from_db()
    assert (gift.fulfilment, gift.tracking_number) == ("shipped", "SF1234567890")
    shipped = client.get(LIST + "fulfilment/?state=shipped").content.decode()
    assert "SF1234567890" in shipped

    client.post(url, {"step": "deliver", "confirmed": "yes"})
    gift.refresh_from_db()
    assert (gift.fulfilment, gift.status) == ("delivered", "fulfilled")


def test_an_auditor_cannot_ship(console_client):
    gift = _gift()

    response = console_client("Auditor").post(
        f"{LIST}{gift.pk}/fulfilment/",
        {"step": "ship", "tracking_number": "SF1", "confirmed": "yes"},
    )

    assert response.status_code == 403
    gift.refresh_from_db()
    assert gift.fulfilment == "waiting"


def test_the_grant_id_is_shown_as_code_not_prose(console_client):
    grant = _gift()

    page = console_client("Operator").get(f"{LIST}{grant.pk}/change/").content.decode()

    assert f"<code>{grant.uid}</code>" in page


def test_a_grant_that_is_not_a_gift_has_no_fulfilment_page(console_client):
    coupon = _grant(make_benefit(stock=1)).grant

    response = console_client("Operator").get(f"{LIST}{coupon.pk}/fulfilment/")

    assert response.status_code == 404


def test_an_auditor_sees_grants_but_cannot_revoke(console_client):
    grant = _grant(make_benefit(stock=1)).grant
    auditor = console_client("Auditor")

    page = auditor.get(LIST)
    refused = auditor.post(f"{LIST}{grant.pk}/revoke/", {"reason": "试试"})

    assert page.status_code == 200
    assert 'value="revoke"' not in page.content.decode()
    assert refused.status_code == 403
    assert Grant.objects.get(pk=grant.pk).status == "fulfilled"
