"""Console writes on stores, store staff and batch redemption rules go through the
redemption services: each form posts a change, reads it back and finds its audit event."""

import pytest
import tablib
from django.contrib.auth.models import User

from redemption.models import BatchRedemptionRule, Store, StoreStaff
from redemption.resources import StoreResource
from riskcontrol.models import AuditEvent
from tests.redemption.factories import make_staff, make_store, rule_for
from tests.vouchers.factories import make_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def staff_management(total=0, initial=0, **rows):
    return {"staff-TOTAL_FORMS": str(total), "staff-INITIAL_FORMS": str(initial), **rows}


def store_form(**overrides):
    data = {"name": "Store", "address": "", "group": "", "active": "on", **staff_management()}
    data.update(overrides)
    return data


def events(subject):
    return list(AuditEvent.objects.filter(subject=subject).order_by("id"))


def test_store_change_form_saves_through_the_service_and_keeps_the_code(operator):
    # given
    store = make_store("S001", name="Old name", group="上海")
    form = store_form(code="S999", name="New name", group="杭州", address="西湖路 1 号")
    del form["active"]

    # when
    response = operator.post(f"/admin/redemption/store/{store.pk}/change/", form)

    # then
    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.code, store.name, store.group, store.address, store.active) == (
        "S001",
        "New name",
        "杭州",
        "西湖路 1 号",
        False,
    )
    event = events("redemption.store")[-1]
    assert (event.action, event.subject_label, event.actor_label) == (
        "update",
        "S001",
        "operator-user",
    )
    assert event.user == User.objects.get(username="operator-user")
    assert event.changes == {
        "name": {"from": "Old name", "to": "New name"},
        "address": {"from": "", "to": "西湖路 1 号"},
        "group": {"from": "上海", "to": "杭州"},
        "active": {"from": True, "to": False},
    }


def test_store_add_form_records_the_operator(operator):
    response = operator.post("/admin/redemption/store/add/", store_form(code="S002", name="Two"))

    assert response.status_code == 302
    store = Store.objects.get(code="S002")
    assert store.name == "Two"
    assert [(e.action, e.actor_label) for e in events("redemption.store")] == [
        ("create", "operator-user")
    ]


def test_adding_a_clerk_on_the_store_page_goes_through_the_staff_service(operator):
    store = make_store("S001")
    clerk = User.objects.create_user("clerk-1")

    response = operator.post(
        f"/admin/redemption/store/{store.pk}/change/",
        store_form(
            name=store.name,
            group=store.group,
            **staff_management(
                total=1,
                **{"staff-0-user": str(clerk.pk), "staff-0-role": "manager", "staff-0-id": ""},
            ),
        ),
    )

    assert response.status_code == 302
    assert StoreStaff.objects.get(store=store).role == "manager"
    event = events("redemption.storestaff")[-1]
    assert (event.action, event.subject_label, event.actor_label) == (
        "create",
        "clerk-1 @ S001",
        "operator-user",
    )


def test_changing_and_removing_staff_on_the_store_page_is_audited(operator):
    store = make_store("S001")
    make_staff("clerk-1", store)
    staff = StoreStaff.objects.get()
    row = {
        "staff-0-id": str(staff.pk),
        "staff-0-store": str(store.pk),
        "staff-0-user": str(staff.user_id),
        "staff-0-role": "manager",
    }
    page = f"/admin/redemption/store/{store.pk}/change/"

    operator.post(
        page, store_form(name=store.name, group=store.group, **staff_management(1, 1, **row))
    )
    staff.refresh_from_db()
    role_after_change = staff.role
    operator.post(
        page,
        store_form(
            name=store.name,
            group=store.group,
            **staff_management(1, 1, **row, **{"staff-0-DELETE": "on"}),
        ),
    )

    assert role_after_change == "manager"
    assert not StoreStaff.objects.exists()
    assert [(e.action, e.changes) for e in events("redemption.storestaff")] == [
        ("update", {"role": {"from": "clerk", "to": "manager"}}),
        ("delete", {"user": {"from": "clerk-1", "to": None}}),
    ]


def test_store_staff_change_form_saves_through_the_service(operator):
    first, second = make_store("S001"), make_store("S002")
    user = make_staff("clerk-1", first)
    staff = StoreStaff.objects.get()

    response = operator.post(
        f"/admin/redemption/storestaff/{staff.pk}/change/",
        {"user": str(user.pk), "store": str(second.pk), "role": "manager"},
    )

    assert response.status_code == 302
    staff.refresh_from_db()
    assert (staff.store, staff.role) == (second, "manager")
    event = events("redemption.storestaff")[-1]
    assert event.changes == {
        "store": {"from": "S001", "to": "S002"},
        "role": {"from": "clerk", "to": "manager"},
    }
    assert event.actor_label == "operator-user"


def test_store_staff_delete_in_the_console_is_audited(operator):
    make_staff("clerk-1", make_store("S001"))
    staff = StoreStaff.objects.get()

    operator.post(f"/admin/redemption/storestaff/{staff.pk}/delete/", {"post": "yes"})

    assert not StoreStaff.objects.exists()
    assert events("redemption.storestaff")[-1].action == "delete"


def rule_inline(**fields):
    data = {
        "redemption_rule-TOTAL_FORMS": "1",
        "redemption_rule-INITIAL_FORMS": "0",
        "redemption_rule-0-store_scope": "all",
        "redemption_rule-0-store_groups_text": "",
        "redemption_rule-0-windows_text": "",
        "redemption_rule-0-min_order_amount": "",
        "redemption_rule-0-id": "",
    }
    data.update({f"redemption_rule-0-{key}": value for key, value in fields.items()})
    return data


def batch_form(batch, **rule_fields):
    return {
        "name": batch.name,
        "valid_days": str(batch.valid_days),
        "per_member_limit": str(batch.per_member_limit),
        "region": "",
        **rule_inline(**rule_fields),
    }


def test_batch_redemption_rule_form_saves_through_the_service(operator):
    # given
    batch = make_batch(quantity=2, valid_days=30)
    store = make_store("S001")

    # when
    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        batch_form(
            batch,
            store_scope="listed",
            stores=[str(store.pk)],
            windows_text="Mon-Fri 10:00-14:00",
            min_order_amount="50.00",
        ),
    )

    # then
    assert response.status_code == 302
    rule = BatchRedemptionRule.objects.get(batch=batch)
    assert rule.store_scope == "listed"
    assert list(rule.stores.all()) == [store]
    assert rule.windows == [{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "14:00"}]
    assert str(rule.min_order_amount) == "50.00"
    event = events("redemption.batchredemptionrule")[-1]
    assert (event.action, event.subject_label, event.actor_label) == (
        "create",
        batch.code,
        "operator-user",
    )
    assert event.changes["stores"] == {"from": None, "to": ["S001"]}


def test_changing_and_removing_a_batch_redemption_rule_is_audited(operator):
    batch = make_batch(quantity=2, valid_days=30)
    rule = rule_for(batch, store_scope="groups", store_groups=["上海"])
    page = f"/admin/vouchers/voucherbatch/{batch.pk}/change/"
    existing = {
        "redemption_rule-INITIAL_FORMS": "1",
        "redemption_rule-0-id": str(rule.pk),
        "redemption_rule-0-batch": str(batch.pk),
    }

    operator.post(
        page,
        {
            **batch_form(batch, store_scope="groups", store_groups_text="上海, 杭州"),
            **existing,
        },
    )
    rule.refresh_from_db()
    groups_after_change = rule.store_groups
    operator.post(
        page,
        {
            **batch_form(batch, store_scope="groups", store_groups_text="上海, 杭州"),
            **existing,
            "redemption_rule-0-DELETE": "on",
        },
    )

    assert groups_after_change == ["上海", "杭州"]
    assert not BatchRedemptionRule.objects.filter(batch=batch).exists()
    assert [(e.action, e.actor_label) for e in events("redemption.batchredemptionrule")] == [
        ("update", "operator-user"),
        ("delete", "operator-user"),
    ]


def test_a_listed_rule_without_stores_is_refused_next_to_the_field(operator):
    batch = make_batch(quantity=2, valid_days=30)

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        batch_form(batch, store_scope="listed"),
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["stores"] == ["Choose at least one store, or allow all stores."]
    assert not BatchRedemptionRule.objects.exists()


def test_store_import_goes_through_the_service_and_records_the_importer():
    user = User.objects.create_user("importer", is_staff=True)
    make_store("S001", name="Old")
    dataset = tablib.Dataset(
        ["S001", "Renamed", "", "上海", "0"],
        ["S002", "New", "", "杭州", "1"],
        headers=["code", "name", "address", "group", "active"],
    )

    result = StoreResource().import_data(dataset, user=user, raise_errors=True)

    assert not result.has_errors()
    assert list(Store.objects.order_by("code").values_list("code", "name", "active")) == [
        ("S001", "Renamed", False),
        ("S002", "New", True),
    ]
    assert [(e.action, e.actor_label) for e in events("redemption.store")] == [
        ("create", "system"),
        ("update", "importer"),
        ("create", "importer"),
    ]


def test_store_upsert_by_a_partner_records_the_partner(partner_api):
    api = partner_api(scopes=["stores:write"])

    api.put("/api/v1/stores/S001", {"name": "One"}, format="json")

    event = events("redemption.store")[-1]
    assert (event.action, event.partner_client_id) == ("create", api.partner_client.pk)
