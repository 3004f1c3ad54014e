"""The console home's sections (business first, then "System") and the console's own 404
page for unknown console addresses, with DEBUG off and on."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, override_settings

from riskcontrol.console_site import BUSINESS, SYSTEM, ConsoleSite

pytestmark = pytest.mark.django_db

BUSINESS_LABELS = ["members", "entitlements", "vouchers", "redemption", "suppliers", "analytics"]
SYSTEM_LABELS = {"auth", "axes", "django_celery_beat", "riskcontrol"}


@pytest.fixture
def superuser_client():
    user = User.objects.create_superuser("root", password="pw-console-123")
    client = Client()
    client.force_login(user)
    return client


def labels(app_list):
    return [app["app_label"] for app in app_list]


def test_the_default_admin_site_is_the_console():
    assert isinstance(admin.site, ConsoleSite)


def test_home_lists_business_sections_first_then_the_system_ones(superuser_client):
    response = superuser_client.get("/admin/")

    assert response.status_code == 200
    app_list = response.context["app_list"]
    order = labels(app_list)
    business = [label for label in order if label in BUSINESS_LABELS]
    system = [label for label in order if label not in BUSINESS_LABELS]
    # Members, vouchers and stores/redemptions are there (benefits once it has models),
    # in the order the apps declare, and all before any technical section.
    assert business == [label for label in BUSINESS_LABELS if label in business]
    assert {"members", "vouchers", "redemption"} <= set(business)
    assert order == business + system
    assert set(system) == SYSTEM_LABELS
    assert [app["console_section"] for app in app_list] == [BUSINESS] * len(business) + [
        SYSTEM
    ] * len(system)


def test_the_system_heading_sits_between_business_and_technical_sections(superuser_client):
    html = superuser_client.get("/admin/").content.decode()

    heading = html.index('id="console-system"')
    assert html.index('class="app-vouchers module') < heading
    assert html.index('class="app-redemption module') < heading
    for label in SYSTEM_LABELS:
        assert heading < html.index(f'class="app-{label} module'), label
    assert html.count('id="console-system"') == 1


def test_the_sidebar_groups_the_same_way(superuser_client):
    html = superuser_client.get("/admin/members/member/").content.decode()

    nav = html[html.index('id="nav-sidebar"') :]
    heading = nav.index('id="nav-console-system"')
    assert nav.index('class="app-members module') < heading < nav.index('class="app-axes module')


def test_the_home_speaks_chinese(superuser_client):
    html = superuser_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert ">系统</h2>" in html
    assert ">门店与核销</a>" in html
    assert ">会员</a>" in html


def test_an_operator_sees_only_sections_they_may_use_in_the_same_order(console_client):
    response = console_client("Operator").get("/admin/")

    order = labels(response.context["app_list"])
    first_system = next(i for i, label in enumerate(order) if label not in BUSINESS_LABELS)
    assert all(label not in BUSINESS_LABELS for label in order[first_system:])
    assert "members" in order[:first_system]


def test_an_app_page_has_no_system_heading_of_its_own(superuser_client):
    html = superuser_client.get("/admin/axes/").content.decode()

    assert 'id="console-system"' not in html


UNKNOWN_ADDRESSES = [
    "/admin/anything-unknown/",
    "/admin/anything-unknown",
    "/admin/vouchers/nosuchmodel/",
    "/admin/nosuchapp/nosuchmodel/1/change/",
    "/admin/vouchers/voucher/999999999/change/",
    "/admin/vouchers/voucher/PASTED-CODE-7Q2X/change/",
    "/admin/vouchers/voucherbatch/999999999/change/",
    "/admin/members/member/999999999/delete/",
    "/admin/members/member/999999999/history/",
    "/admin/riskcontrol/partnerclient/999999999/issue-key/",
]


def assert_console_not_found(response, address):
    html = response.content.decode()
    assert response.status_code == 404, address
    assert response.templates[0].name == "admin/console_not_found.html"
    assert 'id="site-name"' in html  # the console's header: the admin's look
    assert 'href="/admin/" class="console-home-link"' in html
    # Never Django's technical page, never the address that was asked for.
    assert "URLconf" not in html
    assert "Using the URLconf" not in html
    assert "PASTED-CODE" not in html


@pytest.mark.parametrize("address", UNKNOWN_ADDRESSES)
def test_unknown_console_addresses_show_the_console_404(superuser_client, address):
    response = superuser_client.get(address)

    assert_console_not_found(response, address)
    assert "There is no console page at this address." in response.content.decode()


@override_settings(DEBUG=True)
@pytest.mark.parametrize("address", UNKNOWN_ADDRESSES)
def test_unknown_console_addresses_show_the_console_404_with_debug_on(superuser_client, address):
    response = superuser_client.get(address)

    assert_console_not_found(response, address)


def test_the_console_404_speaks_chinese(superuser_client):
    response = superuser_client.get("/admin/vouchers/nosuchmodel/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    html = response.content.decode()
    assert response.status_code == 404
    assert "页面没有找到" in html
    assert "返回控制台首页" in html
    assert "Page not found" not in html


def test_a_missing_object_no_longer_redirects_home_with_the_typed_id(superuser_client):
    response = superuser_client.get("/admin/vouchers/voucher/PASTED-CODE-7Q2X/change/", follow=True)

    assert response.redirect_chain == []
    assert "PASTED-CODE-7Q2X" not in response.content.decode()


@override_settings(DEBUG=True)
def test_someone_signed_out_is_sent_to_the_login_page_not_a_404(client):
    response = client.get("/admin/anything-unknown/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_known_object_still_opens(superuser_client):
    user = User.objects.get(username="root")

    response = superuser_client.get(f"/admin/auth/user/{user.pk}/change/")

    assert response.status_code == 200
