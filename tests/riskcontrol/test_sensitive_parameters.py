"""Views that receive codes mark them sensitive, so Django's error reports never carry
them (issue 9, item 16)."""

import pytest
from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

from redemption.models import StoreStaff
from tests.redemption.factories import claimed_code, make_staff, make_store

pytestmark = pytest.mark.django_db


def hidden_in_error_reports(response, *names):
    request = response.wsgi_request
    reported = SafeExceptionReporterFilter().get_post_parameters(request)
    return all(
        name in getattr(request, "sensitive_post_parameters", ())
        and reported.get(name, SafeExceptionReporterFilter.cleansed_substitute)
        == SafeExceptionReporterFilter.cleansed_substitute
        for name in names
    ) and any(name in reported for name in names)


@pytest.mark.parametrize("page", ["/store/check/", "/store/redeem/"])
def test_the_store_page_marks_the_code_sensitive(page):
    store = make_store("S001")
    make_staff("clerk", store, StoreStaff.Role.CLERK)
    clerk = Client()
    clerk.post("/store/login/", {"username": "clerk", "password": "pw-staff-123"})
    claim = claimed_code()

    response = clerk.post(page, {"code": claim.code})

    assert response.status_code in (200, 409)
    assert hidden_in_error_reports(response, "code")


def test_the_console_find_by_code_marks_the_code_sensitive(console_client):
    claim = claimed_code()

    response = console_client("Operator").post(
        "/admin/vouchers/voucher/find-by-code/", {"code": claim.code}
    )

    assert response.status_code == 302
    assert hidden_in_error_reports(response, "code")


def test_the_redemption_api_marks_code_and_token_sensitive(partner_api):
    make_store("S001")
    claim = claimed_code()
    api = partner_api(scopes=["redemptions:write"])

    response = api.post(
        "/api/v1/redemptions",
        "code=" + claim.code + "&store=S001",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert hidden_in_error_reports(response, "code", "token")
