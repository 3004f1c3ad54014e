import pytest
from django.test import Client

from redemption.models import Redemption, StoreStaff
from tests.redemption.factories import claimed_code, make_staff, make_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return make_store("S001", name="南京西路店")


def signed_in(username, store, role=StoreStaff.Role.CLERK):
    make_staff(username, store, role)
    client = Client()
    client.post(
        "/store/login/", {"username": username, "password": "pw-staff-123"}, REMOTE_ADDR="10.1.1.1"
    )
    return client


def test_sign_in_lands_on_the_store_page(store):
    client = signed_in("clerk", store)

    page = client.get("/store/")

    assert page.status_code == 200
    assert "南京西路店" in page.content.decode()
    assert "autofocus" in page.content.decode()


def test_not_signed_in_goes_to_the_sign_in_page():
    response = Client().get("/store/")

    assert response.status_code == 302
    assert response["Location"].startswith("/store/login/")


def test_staff_of_several_stores_picks_one(store):
    other = make_store("S002", name="西湖店")
    client = signed_in("roamer", store)
    StoreStaff.objects.create(user=StoreStaff.objects.get().user, store=other)

    first = client.get("/store/")
    client.post("/store/pick/", {"store": other.pk})

    assert first["Location"] == "/store/pick/"
    assert "西湖店" in client.get("/store/").content.decode()


def test_check_shows_the_benefit_and_a_masked_member(store):
    claim = claimed_code(name="新人立减10元")
    from members.services import member_upsert

    member_upsert(external_id="M1", phone="13912345678")
    client = signed_in("clerk", store)

    page = client.post("/store/check/", {"code": claim.code}).content.decode()

    assert "新人立减10元" in page
    assert "10.00 CNY" in page
    assert "139****5678" in page
    assert "13912345678" not in page
    assert not Redemption.objects.exists()


def test_redeem_shows_success_with_the_discount(store):
    claim = claimed_code()
    client = signed_in("clerk", store)

    page = client.post(
        "/store/redeem/", {"code": claim.code, "order_amount": "50", "order_ref": "T-1"}
    )

    assert page.status_code == 200
    assert "-10.00 CNY" in page.content.decode()
    redemption = Redemption.objects.get()
    assert (redemption.store, redemption.order_ref, redemption.actor_label) == (
        store,
        "T-1",
        "clerk",
    )


def test_redeeming_again_says_already_redeemed_with_when_and_where(store):
    claim = claimed_code()
    client = signed_in("clerk", store)
    client.post("/store/redeem/", {"code": claim.code})

    page = client.post("/store/redeem/", {"code": claim.code})

    text = page.content.decode()
    assert page.status_code == 409
    assert 'data-code="already_redeemed"' in text
    assert "南京西路店 (S001)" in text


def test_21_unknown_codes_from_one_clerk_give_429(store):
    client = signed_in("clerk", store)
    statuses = [client.post("/store/check/", {"code": f"WRONG{i}"}).status_code for i in range(20)]

    blocked = client.post("/store/redeem/", {"code": "WRONG21"})

    assert statuses == [404] * 20
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    assert "Too many unknown codes" in blocked.content.decode()


def test_a_clerk_cannot_reverse_but_a_manager_can(store):
    claim = claimed_code()
    clerk = signed_in("clerk", store)
    clerk.post("/store/redeem/", {"code": claim.code})
    redemption = Redemption.objects.get()
    manager = signed_in("boss", store, StoreStaff.Role.MANAGER)

    refused = clerk.post(f"/store/redemptions/{redemption.pk}/reverse/", {"reason": "x"})
    done = manager.post(
        f"/store/redemptions/{redemption.pk}/reverse/", {"reason": "customer refund"}
    )

    assert refused.status_code == 403
    assert done.status_code == 200
    redemption.refresh_from_db()
    assert (redemption.status, redemption.reversed_by) == ("reversed", "boss")


def test_codes_are_never_accepted_in_the_url(store):
    claim = claimed_code()
    client = signed_in("clerk", store)

    assert client.get("/store/check/", {"code": claim.code}).status_code == 405
    assert client.get("/store/redeem/", {"code": claim.code}).status_code == 405


def test_a_user_without_a_store_is_told_so():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("nobody", password="pw-staff-123")
    client = Client()
    client.post("/store/login/", {"username": "nobody", "password": "pw-staff-123"})

    page = client.get("/store/", follow=True).content.decode()

    assert "not assigned to any store" in page


def test_the_page_speaks_chinese(store):
    client = signed_in("clerk", store)

    page = client.get("/store/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "核销" in page


def test_an_unattended_page_signs_the_clerk_out(store, settings, time_machine):
    # given: a clerk who stopped using the page
    settings.STORE_IDLE_TIMEOUT_SECONDS = 30 * 60
    time_machine.move_to("2026-11-30 10:00:00+08:00", tick=False)
    client = signed_in("clerk", store)
    assert client.get("/store/").status_code == 200

    # when: 31 minutes pass without a request
    time_machine.move_to("2026-11-30 10:31:00+08:00", tick=False)
    response = client.post("/store/check/", {"code": "ANY-CODE"})

    # then: nothing is checked; the clerk signs in again and is told why
    assert response.status_code == 302
    assert response["Location"] == "/store/login/?next=/store/&idle=1"
    assert "_auth_user_id" not in client.session
    login = client.get(response["Location"]).content.decode()
    assert "signed out after 30 minutes without activity" in login


def test_activity_keeps_the_clerk_signed_in(store, settings, time_machine):
    settings.STORE_IDLE_TIMEOUT_SECONDS = 30 * 60
    time_machine.move_to("2026-11-30 10:00:00+08:00", tick=False)
    client = signed_in("clerk", store)

    for minute in (20, 40, 60):
        time_machine.move_to(
            f"2026-11-30 {10 + minute // 60}:{minute % 60:02d}:00+08:00", tick=False
        )
        assert client.get("/store/").status_code == 200


def test_signing_in_again_after_a_long_pause_counts_as_activity(
    store, settings, time_machine, django_user_model
):
    # given: a clerk whose page sat unused, who then signs in again in the same browser
    settings.STORE_IDLE_TIMEOUT_SECONDS = 30 * 60
    time_machine.move_to("2026-11-30 10:00:00+08:00", tick=False)
    client = signed_in("clerk", store)
    assert client.get("/store/").status_code == 200
    time_machine.move_to("2026-11-30 11:00:00+08:00", tick=False)
    client.force_login(django_user_model.objects.get(username="clerk"))
    assert client.session["clerk_last_seen"]  # the old activity time is still there

    # when
    response = client.get("/store/")

    # then: the new sign-in is not undone by the old last-seen time
    assert response.status_code == 200
