"""The partner API's documentation (/api/v1/schema, /api/v1/docs): descriptions written
for partner developers, the Authorize dialog explained, and every operation listing the
problem codes it can answer — each one a code the server really has, with its status."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from members.services import member_upsert
from riskcontrol.core.errors import DomainError
from riskcontrol.http import problems
from riskcontrol.http.partner_api import PartnerApi
from tests.vouchers.factories import make_batch

PROBLEM = "application/problem+json"
EVERY_CALL = {
    401: "unauthenticated",
    403: "permission_denied",
    429: "rate_limited",
    500: "server_error",
    503: "service_unavailable",
}
# Words of the code's own notes, not of a partner's documentation.
INTERNAL_WORDS = (
    "required_scope",
    "get_required_scopes",
    "validate()",
    "then one service",
    "API.md",
    "PartnerApi",
    "render",
    "honour",
    "docstring",
)


def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def codes_in_the_code() -> dict[str, int]:
    """Every problem `code` the server can answer, with its HTTP status."""
    known = {error.code: error.status for error in all_subclasses(DomainError)}
    known.update({code: cls.status_code for cls, code, _title in problems._DRF_CODES})
    known.update({code: status for status, (code, _title) in problems._STATUS_CODES.items()})
    known[problems.server_error_problem(None)["code"]] = 500
    known.pop(DomainError.code, None)
    return known


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def documented_codes(operation) -> dict[str, int]:
    """`{code: status}` from the examples of the operation's problem responses."""
    found = {}
    for status, response in operation["responses"].items():
        content = response.get("content", {})
        if PROBLEM not in content:
            continue
        for example in content[PROBLEM]["examples"].values():
            found[example["value"]["code"]] = int(status)
    return found


def test_every_operation_has_a_description_for_partner_developers(schema):
    internal_notes = {
        cls.__doc__.strip()
        for cls in [PartnerApi, *all_subclasses(PartnerApi)]
        if cls.__doc__ and cls.__doc__.strip()
    }
    for name, operation in operations(schema):
        description = operation.get("description", "")
        assert operation.get("summary"), name
        assert len(description) > 80, name
        assert description not in internal_notes, name
        for word in INTERNAL_WORDS:
            assert word not in description, (name, word)


def test_every_parameter_says_what_to_send(schema):
    for name, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (name, parameter["name"])


def test_every_operation_names_the_scope_it_needs(schema):
    for name, operation in operations(schema):
        if "ApiKeyAuth" not in str(operation.get("security", "")):
            continue
        assert re.search(r"Scope: `[a-z_]+:[a-z_]+`", operation["description"]), name


def test_every_problem_response_lists_its_codes_in_the_description_and_examples(schema):
    for name, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400 or PROBLEM not in response.get("content", {}):
                continue
            content = response["content"][PROBLEM]
            assert content["schema"]["$ref"].startswith("#/components/schemas/"), name
            examples = content["examples"]
            assert examples, (name, status)
            for example in examples.values():
                value = example["value"]
                assert value["status"] == int(status), (name, status, value)
                assert f"`{value['code']}`" in response["description"], (name, value["code"])
                assert value["type"] == f"urn:quanyi:problem:{value['code']}"


def test_every_listed_code_exists_in_the_code_with_that_status(schema):
    known = codes_in_the_code()
    for name, operation in operations(schema):
        for code, status in documented_codes(operation).items():
            assert code in known, (name, code)
            assert known[code] == status, (name, code, status)


def test_authenticated_operations_list_what_every_call_can_meet(schema):
    for name, operation in operations(schema):
        if "ApiKeyAuth" not in str(operation.get("security", "")):
            continue
        codes = documented_codes(operation)
        for status, code in EVERY_CALL.items():
            assert codes.get(code) == status, (name, code)


def test_operations_with_a_body_or_an_idempotency_key_list_those_errors(schema):
    for name, operation in operations(schema):
        codes = documented_codes(operation)
        idempotent = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
        if "requestBody" in operation or idempotent:
            for code in ("validation_error", "parse_error", "unsupported_media_type"):
                assert code in codes, (name, code)
            assert codes.get("payload_too_large") == 413, name
        if idempotent:
            assert codes.get("idempotency_key_reused") == 422, name
            assert codes.get("request_in_progress") == 409, name


EXPECTED = {
    "claims_create": {"not_found", "sold_out", "limit_reached", "batch_not_active"},
    "redemptions_create": {
        "not_found",
        "already_redeemed",
        "not_claimed",
        "not_redeemable_here",
        "outside_redemption_window",
        "below_minimum_order",
        "token_expired",
        "voucher_expired",
        "voucher_frozen",
        "voucher_void",
    },
    "redemptions_reversal_create": {"not_found", "already_reversed", "reversal_window_passed"},
    "vouchers_secret_retrieve": {"not_found", "voucher_frozen", "voucher_void"},
    "vouchers_presentations_create": {"not_found", "already_redeemed", "not_claimed"},
    "members_retrieve": {"not_found"},
    "members_vouchers_list": {"not_found", "validation_error"},
    "batches_retrieve": {"not_found"},
    "vouchers_retrieve": {"not_found"},
    "redemptions_retrieve": {"not_found"},
    "stores_retrieve": {"not_found"},
    "stores_upsert": {"validation_error"},
    "benefits_list": {"validation_error"},
    "benefits_retrieve": {"not_found"},
    "grants_create": {
        "not_found",
        "validation_error",
        "not_eligible",
        "quota_exhausted",
        "insufficient_points",
        "out_of_stock",
        "budget_exhausted",
        "benefit_inactive",
        "region_unavailable",
    },
    "grants_retrieve": {"not_found"},
    "members_entitlements_retrieve": {"not_found"},
}


def test_each_endpoint_lists_the_codes_of_the_contract(schema):
    by_id = {operation["operationId"]: operation for _name, operation in operations(schema)}
    for operation_id, expected in EXPECTED.items():
        assert expected <= set(documented_codes(by_id[operation_id])), operation_id


def test_every_code_of_the_contract_that_the_server_has_is_documented(schema):
    documented = set()
    for _name, operation in operations(schema):
        documented |= set(documented_codes(operation))
    # Not per operation: a wrong method or a content type nobody asked for (the API's
    # description names 405); and the refusals of the console and of management commands
    # (the program file), which no API call raises.
    undocumented_on_purpose = {"method_not_allowed", "not_acceptable", "bad_request"}
    console_only = {
        "import_blocked",
        "segment_has_no_tag",
        "program_invalid",
        "not_revocable",
        "fulfilment_out_of_order",
    }
    assert set(codes_in_the_code()) - undocumented_on_purpose - console_only <= documented


def test_the_authorize_dialog_explains_the_header(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]

    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert "`Api-Key <key>`" in scheme["description"]
    assert "just the key" in scheme["description"]


@pytest.mark.django_db
def test_the_served_schema_carries_the_error_codes():
    response = APIClient().get("/api/v1/schema", {"format": "json"})

    assert response.status_code == 200
    body = response.json()
    claims = body["paths"]["/api/v1/batches/{code}/claims"]["post"]
    assert "sold_out" in claims["responses"]["409"]["description"]


# --- What the server answers is what the documentation lists ---------------------------


@pytest.mark.django_db
def test_real_refusals_are_among_the_documented_codes(schema, partner_api):
    by_path = {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    api = partner_api(scopes=["vouchers:claim", "redemptions:write", "stores:write"])
    member_upsert(external_id="M1")
    make_batch(quantity=1, code="ONE")
    assert api.post("/api/v1/batches/ONE/claims", {"member": "M1"}, format="json").status_code == (
        201
    )
    refusals = [
        (
            "/api/v1/batches/{code}/claims",
            "post",
            api.post("/api/v1/batches/ONE/claims", {"member": "M1"}, format="json"),
        ),
        (
            "/api/v1/batches/{code}/claims",
            "post",
            api.post("/api/v1/batches/NOPE/claims", {"member": "M1"}, format="json"),
        ),
        (
            "/api/v1/redemptions",
            "post",
            api.post("/api/v1/redemptions", {"code": "NOPE", "store": "S1"}, format="json"),
        ),
        ("/api/v1/stores/{code}", "put", api.put("/api/v1/stores/S1", {}, format="json")),
        (
            "/api/v1/stores/{code}",
            "put",
            api.put("/api/v1/stores/S1", "{", content_type="application/json"),
        ),
        (
            "/api/v1/stores/{code}",
            "put",
            api.put("/api/v1/stores/S1", "x", content_type="text/plain"),
        ),
    ]
    for path, method, response in refusals:
        body = response.json()
        documented = documented_codes(by_path[(path, method)])
        assert documented.get(body["code"]) == response.status_code, (path, body)


# --- The bare key in the Authorize dialog ------------------------------------------------


@pytest.fixture
def keyed(partner_api):
    member_upsert(external_id="M1")
    return partner_api(scopes=["members:read"])


def get_member(authorization):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=authorization)
    return api.get("/api/v1/members/M1")


@pytest.mark.django_db
def test_api_key_keyword_and_key_still_work(keyed):
    assert get_member(f"Api-Key {keyed.raw_key}").status_code == 200


@pytest.mark.django_db
def test_the_bare_key_is_accepted(keyed):
    response = get_member(keyed.raw_key)

    assert response.status_code == 200
    assert response.json()["external_id"] == "M1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer {key}",
        "Basic {key}",
        "api-key {key}",
        "{key}x",
        "not-a-key",
        "Api-Key",
        "Api-Key ",
    ],
)
def test_other_schemes_and_wrong_keys_are_refused(keyed, authorization):
    response = get_member(authorization.format(key=keyed.raw_key))

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Api-Key"
    assert keyed.raw_key not in response.content.decode()


@pytest.mark.django_db
def test_a_revoked_bare_key_is_refused(keyed):
    from riskcontrol.models import PartnerClientKey

    PartnerClientKey.objects.filter(client=keyed.partner_client).update(revoked=True)

    assert get_member(keyed.raw_key).status_code == 401
