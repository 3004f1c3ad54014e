"""Every response under /api/v1 is an RFC 9457 problem document with a stable code."""

import logging

import pytest
from rest_framework.test import APIClient

from tests.crash_urls import SECRET_IN_EXCEPTION

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:quanyi:problem:{code}"
    assert body["title"]
    assert body["detail"]
    return body


def test_no_key_is_401_with_www_authenticate():
    response = APIClient().get("/api/v1/members/M1")

    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize("header", ["Api-Key nope.nope", "Bearer abc", "Api-Key ", "Api-Key"])
def test_unknown_or_malformed_key_is_401(header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get("/api/v1/members/M1")

    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_revoked_key_is_401(partner_api):
    from riskcontrol.services import partner_keys_revoke

    api = partner_api(scopes=["members:read"])
    partner_keys_revoke(client=api.partner_client)

    assert_problem(api.get("/api/v1/members/M1"), 401, "unauthenticated")


def test_inactive_client_is_401(partner_api):
    api = partner_api(scopes=["members:read"])
    api.partner_client.active = False
    api.partner_client.save()

    assert_problem(api.get("/api/v1/members/M1"), 401, "unauthenticated")


def test_expired_key_is_401(partner_api, time_machine):
    from django.utils import timezone

    from riskcontrol.services import partner_key_issue

    api = partner_api(scopes=["members:read"])
    _key, raw = partner_key_issue(
        client=api.partner_client, expiry_date=timezone.now() + timezone.timedelta(days=1)
    )
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    time_machine.move_to(timezone.now() + timezone.timedelta(days=2))

    assert_problem(api.get("/api/v1/members/M1"), 401, "unauthenticated")


def test_missing_scope_is_403(partner_api):
    api = partner_api(scopes=["members:write"])

    assert_problem(api.get("/api/v1/members/M1"), 403, "permission_denied")


def test_unknown_member_is_404(partner_api):
    api = partner_api(scopes=["members:read"])

    body = assert_problem(api.get("/api/v1/members/NOPE"), 404, "not_found")
    assert body["detail"] == "No member with this external id."


def test_bad_body_is_400_with_field_errors(partner_api):
    api = partner_api(scopes=["members:write"])

    response = api.post(
        "/api/v1/members", {"name": "x" * 101, "birthday": "31/02/2000"}, format="json"
    )

    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"external_id", "name", "birthday"}
    assert body["errors"]["external_id"] == ["This field is required."]


def test_service_validation_is_400_with_field_errors(partner_api):
    api = partner_api(scopes=["members:write"])

    response = api.post(
        "/api/v1/members",
        {"external_id": "M1", "phone": "12ab", "email": "not-an-email", "tier": "nope"},
        format="json",
    )

    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == {
        "phone": ["Enter a phone number of 6 to 15 digits."],
        "email": ["Enter a valid e-mail address."],
        "tier": ["Unknown tier code: nope"],
    }


def test_malformed_json_is_400_parse_error(partner_api):
    api = partner_api(scopes=["members:write"])

    response = api.post("/api/v1/members", '{"external_id": ', content_type="application/json")

    assert_problem(response, 400, "parse_error")


def test_non_json_body_is_415(partner_api):
    api = partner_api(scopes=["members:write"])

    response = api.post("/api/v1/members", "external_id=M1", content_type="text/plain")

    assert_problem(response, 415, "unsupported_media_type")


def test_wrong_method_is_405(partner_api):
    api = partner_api(scopes=["members:read"])

    response = api.delete("/api/v1/members/M1")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/members/M1/", "/api/v1/"])
def test_unknown_url_is_404(path):
    assert_problem(APIClient().get(path), 404, "not_found")


def test_rate_limit_is_429_with_retry_after(partner_api, settings):
    settings.PARTNER_API_RATE = "2/min"
    api = partner_api(scopes=["members:read"])
    api.get("/api/v1/members/M1")
    api.get("/api/v1/members/M1")

    response = api.get("/api/v1/members/M1")

    assert_problem(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.urls("tests.crash_urls")
def test_unexpected_error_is_500_with_request_id_and_no_trace(partner_api, caplog):
    api = partner_api()

    with caplog.at_level(logging.ERROR):
        response = api.get("/api/v1/_test/crash", HTTP_X_REQUEST_ID="req-abcdef123")

    body = assert_problem(response, 500, "server_error")
    assert body["request_id"] == "req-abcdef123"
    assert response["X-Request-ID"] == "req-abcdef123"
    assert "Traceback" not in response.content.decode()
    assert SECRET_IN_EXCEPTION not in response.content.decode()
    assert any(getattr(r, "request_id", None) == "req-abcdef123" for r in caplog.records)


@pytest.mark.urls("tests.crash_urls")
def test_error_outside_drf_is_still_a_problem_document():
    client = APIClient(raise_request_exception=False)

    response = client.get("/api/v1/_test/plain-crash")

    body = assert_problem(response, 500, "server_error")
    assert body["request_id"] == response["X-Request-ID"]
    assert SECRET_IN_EXCEPTION not in response.content.decode()


def test_problem_titles_follow_the_callers_language():
    response = APIClient().get("/api/v1/members/M1", HTTP_ACCEPT_LANGUAGE="zh-hans")

    body = assert_problem(response, 401, "unauthenticated")
    assert body["title"] == "需要身份验证。"
