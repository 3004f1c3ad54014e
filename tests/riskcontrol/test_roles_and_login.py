import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

pytestmark = pytest.mark.django_db


def perms(group_name):
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Operator",
        "Store clerk",
        "Auditor",
    }


def test_operator_manages_members_and_partner_clients():
    operator = perms("Operator")

    assert {
        "members.add_member",
        "members.change_member",
        "members.view_member",
        "members.change_tier",
        "riskcontrol.add_partnerclient",
        "riskcontrol.issue_partner_key",
    } <= operator
    assert not {p for p in operator if p.startswith("auth.")}


def test_auditor_can_only_view():
    auditor = perms("Auditor")

    assert "members.view_member" in auditor
    assert "riskcontrol.view_partnerclient" in auditor
    assert all(p.split(".")[1].startswith("view_") for p in auditor)


def test_roles_sync_restores_permissions_removed_by_hand():
    from riskcontrol.services import roles_sync

    Group.objects.get(name="Auditor").permissions.clear()

    roles_sync()

    assert "members.view_member" in perms("Auditor")


def test_auditor_sees_members_but_cannot_change_them(console_client):
    client = console_client("Auditor")

    assert client.get("/admin/members/member/").status_code == 200
    assert client.get("/admin/members/member/add/").status_code == 403


def login(client, username, password):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.7",
    )


def test_admin_login_locks_after_five_failures_for_that_username_and_address():
    User.objects.create_user("op", password="right-password-1", is_staff=True)
    client = Client()
    for _ in range(5):
        login(client, "op", "wrong")

    locked = login(client, "op", "right-password-1")
    other_address = client.post(
        "/admin/login/?next=/admin/",
        {"username": "op", "password": "right-password-1"},
        REMOTE_ADDR="10.0.0.8",
    )

    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert other_address.status_code == 302


def test_admin_login_works_with_the_right_password():
    User.objects.create_user("op", password="right-password-1", is_staff=True)

    response = login(Client(), "op", "right-password-1")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
