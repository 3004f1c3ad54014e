"""The benefit catalog in the console: the list (stock per source and the fallback chain
in a fixed number of queries), its filters and search, and the change form whose rules
are `services.benefit_errors`, shown on the field or the row they are about."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from entitlements.models import Benefit, BenefitSource
from entitlements.services import benefit_errors
from riskcontrol.models import AuditEvent
from tests.entitlements.factories import add_fallback, add_item, add_source, make_benefit
from tests.vouchers.factories import make_batch

pytestmark = pytest.mark.django_db

LIST = "/admin/entitlements/benefit/"


def _page(client, url=LIST) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _form(fields: dict, *, sources=(), fallbacks=(), items=(), initial=(0, 0, 0)) -> dict:
    """The POST of the benefit form with its three inlines (rows: dicts of fields)."""
    data = {
        "code": "NEW1",
        "name": "新权益",
        "kind": "coupon",
        "priority": "100",
        "currency": "CNY",
        "cost": "0",
        "exchange_period": "month",
        "active": "on",
        **fields,
    }
    for prefix, rows, start in zip(
        ("sources", "fallback_links", "items"), (sources, fallbacks, items), initial, strict=True
    ):
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(start)
        for index, row in enumerate(rows):
            for name, value in row.items():
                data[f"{prefix}-{index}-{name}"] = value
    return data


def test_the_list_shows_stock_per_source_and_the_fallback_chain(console_client):
    coffee = make_benefit(stock=5, code="COFFEE", name="咖啡券")
    add_source(coffee, 3)
    tea = make_benefit(stock=7, code="TEA", name="茶饮券")
    add_fallback(coffee, tea)
    client = console_client("Operator")

    page = _page(client)

    first, second = coffee.sources.order_by("position")
    assert f"{first.batch.code}: 5<br>{second.batch.code}: 3" in page
    assert "茶饮券 (7)" in page


def test_the_list_counts_stock_in_the_same_number_of_queries_for_any_number_of_rows(
    console_client,
):
    client = console_client("Operator")
    for _n in range(2):
        add_fallback(make_benefit(stock=2), make_benefit(stock=2))
    client.get(LIST)  # warm: sessions, content types
    with CaptureQueriesContext(connection) as few:
        _page(client)
    for _n in range(8):
        add_fallback(make_benefit(stock=2), make_benefit(stock=2))
    with CaptureQueriesContext(connection) as many:
        _page(client)

    assert len(many.captured_queries) == len(few.captured_queries)


def test_filters_by_kind_active_now_and_region_and_search_by_code_or_name(console_client):
    make_benefit(stock=1, code="SH1", name="上海专享", region="310000")
    make_benefit(stock=None, code="VIP1", name="贵宾厅", kind="privilege", valid_days=30)
    make_benefit(
        stock=1,
        code="OLD1",
        name="过期券",
        active_until=timezone.now() - dt.timedelta(days=1),
    )
    client = console_client("Operator")

    assert "VIP1" in _page(client, LIST + "?kind__exact=privilege")
    assert "SH1" not in _page(client, LIST + "?kind__exact=privilege")
    assert "OLD1" not in _page(client, LIST + "?active_now=yes")
    assert "OLD1" in _page(client, LIST + "?active_now=no")
    assert "SH1" in _page(client, LIST + "?region=310000")
    assert "VIP1" not in _page(client, LIST + "?region=310000")
    assert "SH1" not in _page(client, LIST + "?region=-")
    assert "VIP1" in _page(client, LIST + "?q=贵宾")
    assert "SH1" not in _page(client, LIST + "?q=VIP")


def test_a_coupon_is_created_with_its_batches_in_order(console_client):
    first, second = make_batch(3), make_batch(4)
    client = console_client("Operator")

    response = client.post(
        LIST + "add/",
        _form(
            {},
            sources=[
                {"position": "1", "batch": str(second.pk)},
                {"position": "0", "batch": str(first.pk)},
            ],
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    benefit = Benefit.objects.get(code="NEW1")
    assert [s.batch_id for s in benefit.sources.order_by("position")] == [first.pk, second.pk]
    event = AuditEvent.objects.get(subject="entitlements.benefit")
    assert (event.action, event.subject_label) == ("create", "NEW1")
    assert event.changes["sources"] == {"from": None, "to": [first.code, second.code]}


def test_a_pack_without_items_and_with_a_source_is_refused_in_plain_sentences(console_client):
    batch = make_batch(3)
    client = console_client("Operator")

    response = client.post(
        LIST + "add/",
        _form({"kind": "pack"}, sources=[{"position": "0", "batch": str(batch.pk)}]),
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "A pack holds items, not sources: remove its sources." in page
    assert "A pack needs at least one item." in page
    assert not Benefit.objects.filter(code="NEW1").exists()


def test_a_fallback_that_is_a_pack_or_the_benefit_itself_is_refused_on_its_row(console_client):
    coffee = make_benefit(stock=3, code="COFFEE", name="咖啡券")
    pack = make_benefit(stock=None, code="PACK1", name="礼包", kind="pack")
    add_item(pack, make_benefit(stock=1))
    source = coffee.sources.get()
    client = console_client("Operator")

    response = client.post(
        f"{LIST}{coffee.pk}/change/",
        _form(
            {"code": "COFFEE", "name": "咖啡券"},
            sources=[
                {
                    "id": str(source.pk),
                    "benefit": str(coffee.pk),
                    "position": "0",
                    "batch": str(source.batch_id),
                }
            ],
            fallbacks=[
                {"position": "0", "fallback": str(pack.pk)},
                {"position": "1", "fallback": str(coffee.pk)},
            ],
            initial=(1, 0, 0),
        ),
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "礼包 is a pack; a fallback must be a single benefit." in page
    assert "A benefit cannot be its own fallback." in page
    assert not coffee.fallback_links.exists()


def test_a_card_secret_batch_is_refused_as_the_source_of_a_coupon(console_client):
    cards = make_batch(quantity=None, kind="card_secret", code="CARDS1")
    client = console_client("Operator")

    response = client.post(
        LIST + "add/", _form({}, sources=[{"position": "0", "batch": str(cards.pk)}])
    )

    assert response.status_code == 200
    assert "Batch CARDS1 holds card secret; a coupon takes coupon batches only." in (
        response.content.decode()
    )
    assert not BenefitSource.objects.exists()


def test_a_privilege_needs_valid_days_on_the_field(console_client):
    client = console_client("Operator")

    response = client.post(LIST + "add/", _form({"kind": "privilege"}))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["valid_days"] == ["A privilege needs its validity: enter the valid days."]


def test_saving_a_benefit_never_writes_back_a_stale_budget_used(console_client):
    coffee = make_benefit(stock=3, code="COFFEE", name="咖啡券", budget=Decimal("100"))
    source = coffee.sources.get()
    client = console_client("Operator")
    # A grant charges the budget between the page being read and posted.
    Benefit.objects.filter(pk=coffee.pk).update(budget_used=Decimal("30"))

    response = client.post(
        f"{LIST}{coffee.pk}/change/",
        _form(
            {"code": "COFFEE", "name": "咖啡券（新）", "budget": "100", "face_value": "10.00"},
            sources=[
                {
                    "id": str(source.pk),
                    "benefit": str(coffee.pk),
                    "position": "0",
                    "batch": str(source.batch_id),
                }
            ],
            initial=(1, 0, 0),
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    coffee.refresh_from_db()
    assert (coffee.name, coffee.budget_used) == ("咖啡券（新）", Decimal("30.00"))
    event = AuditEvent.objects.get(subject="entitlements.benefit")
    assert (event.action, event.changes) == (
        "update",
        {"name": {"from": "咖啡券", "to": "咖啡券（新）"}},
    )


def test_the_rules_in_one_place():
    coupon = make_benefit(stock=None, code="C1", kind="coupon")
    cards = make_batch(quantity=None, kind="card_secret", code="CARDS2")
    coupons = make_batch(2)

    assert benefit_errors(coupon, sources=[coupons], fallbacks=[], items=[]) == {}
    assert benefit_errors(coupon, sources=[], fallbacks=[], items=[]) == {
        "sources": ["A coupon needs at least one voucher batch (or a fallback) to grant from."]
    }
    assert list(benefit_errors(coupon, sources=[coupons, cards, coupons])) == [
        "sources.1",
        "sources.2",
    ]
    assert benefit_errors(Benefit(kind="coupon", exchange_limit=2)) == {
        "exchange_limit": [
            "An exchange limit needs a points price; enter the price or clear the limit."
        ]
    }
    assert benefit_errors(Benefit(kind="coupon", budget=Decimal("5"), budget_used=Decimal("9")))[
        "budget"
    ] == ["The budget cannot be below what is already used (9)."]
    physical = make_benefit(stock=None, code="GIFT", kind="physical", name="保温杯")
    assert benefit_errors(coupon, fallbacks=[physical]) == {
        "fallbacks.0": [
            "保温杯 is a physical gift: it can stand in only for a benefit of the same kind."
        ]
    }


def test_a_benefit_used_as_a_fallback_cannot_become_a_pack():
    coffee, tea = make_benefit(stock=1, name="咖啡券"), make_benefit(stock=1, name="茶饮券")
    add_fallback(coffee, tea)
    tea.kind = "pack"

    assert benefit_errors(tea)["kind"] == [
        "This benefit is a fallback of 咖啡券; a pack cannot be a fallback."
    ]


def test_the_change_page_shows_stock_and_links_the_matrix_and_the_grants(console_client):
    coffee = make_benefit(stock=4, code="COFFEE", name="咖啡券")
    client = console_client("Auditor")

    page = _page(client, f"{LIST}{coffee.pk}/change/")

    assert f"/admin/entitlements/tierbenefit/#benefit-{coffee.pk}" in page
    assert f"/admin/entitlements/grant/?benefit__id__exact={coffee.pk}" in page
    assert f"<td>{coffee.sources.get().batch.code}</td><td>4</td>" in page
