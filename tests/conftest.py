import os
import shutil

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

# Playwright's sync API keeps an asyncio loop marked as running in the main thread,
# so Django's ORM would raise SynchronousOnlyOperation during browser tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def pytest_collection_modifyitems(config, items):
    from tests.utils import IN_CI

    if IN_CI or shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason="Debian chromium is not installed (apt-get install chromium)")
    for item in items:
        if "e2e" in item.nodeid.split("/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english_by_default():
    """A request in another language leaves it active in the thread; start each test in
    the default language."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def partner_api(db):
    """`partner_api(scopes=[...], store_code="")` -> an APIClient authenticated as a new
    partner client holding those scopes."""
    from tests.riskcontrol.factories import partner_client_with_key

    def make(scopes=(), store_code=""):
        client, raw_key = partner_client_with_key(scopes=list(scopes), store_code=store_code)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        api.partner_client = client
        api.raw_key = raw_key
        return api

    return make


@pytest.fixture
def console_client(db):
    """`console_client("Operator")` -> a Django test client signed in to the admin as a
    staff user holding that role."""
    from django.contrib.auth.models import Group, User
    from django.test import Client

    def make(role: str) -> Client:
        user = User.objects.create_user(
            f"{role.lower().replace(' ', '-')}-user", password="pw-console-123", is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        return client

    return make
