import pytest


@pytest.fixture
def operator_user(transactional_db):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("op", password="op-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    return user


@pytest.fixture
def offline(page, live_server):
    """Abort every request that does not go to the live server, and record it."""
    blocked: list[str] = []

    def route(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return blocked
