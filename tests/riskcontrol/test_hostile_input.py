"""The hostile probe's classes, re-run: bad bytes in paths and bodies, oversize and deeply
nested bodies, unknown URLs with every method, a bad Host. Under /api/v1 every answer is a
problem document and none is a server error (issue 9, item 11).

The routes are walked from the URLconf, so a new route is probed without editing this file.
"""

from __future__ import annotations

import io
import json
import random
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from members.services import member_upsert
from riskcontrol.partners.scopes import SCOPES
from tests.redemption.factories import make_store
from tests.vouchers import hostile_files as hostile
from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What the probe put into path parameters: NUL, other control characters, bidirectional
# marks and overrides, over-long values, stray percent signs, bytes that are not UTF-8.
HOSTILE_SEGMENTS = [
    "\x00",
    "M1\x00",
    "a\x00b",
    "\x01\x02\x1f",
    "\x7f",
    "\x85",
    "M\r\nSet-Cookie: x=1",
    "\t",
    "\u202eM1",
    "M1\u2066x\u2069",
    "\u200fM1",
    "A" * 33,
    "A" * 5000,
    "%00",
    "%",
    "..",
    b"\xed\xa0\x80",  # a lone surrogate, UTF-8-encoded
    b"\xff\xfe",
]
# One parameter of a path() pattern: <converter:name>.
_PARAMETER_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def api_routes() -> list[str]:
    """Every /api/v1 route of the URLconf, as a `path()` pattern string."""
    resolver = get_resolver()
    routes: list[str] = []

    def walk(patterns, prefix):
        for entry in patterns:
            pattern = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + pattern)
            elif isinstance(entry, URLPattern) and (prefix + pattern).startswith("api/v1/"):
                if pattern.startswith("^"):  # the catch-all for unknown URLs
                    continue
                routes.append(prefix + pattern)

    walk(resolver.url_patterns, "")
    return routes


ROUTES_WITH_PARAMETERS = [route for route in api_routes() if _PARAMETER_RE.search(route)]
IDENTIFIER_ROUTES = [route for route in ROUTES_WITH_PARAMETERS if "<int:" not in route]


def fill(route: str, value: str | bytes) -> str:
    """The route with every parameter set to `value` (percent-encoded, as on the wire)."""
    return "/" + _PARAMETER_RE.sub(lambda _m: quote(value, safe=""), route)


@pytest.fixture
def world(partner_api):
    """A client holding every scope, and one of everything for the routes to find."""
    member_upsert(external_id="M1")
    make_batch(quantity=3, code="HOSTILE", per_member_limit=None)
    make_store(code="S001")
    return partner_api(scopes=list(SCOPES))


def assert_problem(response, status=None):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    if response.status_code >= 400:
        assert response["Content-Type"] == PROBLEM, response.content[:300]
        if response.request["REQUEST_METHOD"] != "HEAD":
            body = response.json()
            assert body["status"] == response.status_code
            assert body["code"]
            return body
    return None


def send(api, method, path, **kwargs):
    return getattr(api, method.lower())(path, **kwargs)


def test_the_walk_finds_the_routes():
    # The nine routes with path parameters the probe found 500s on, and the rest.
    assert len(ROUTES_WITH_PARAMETERS) >= 9
    assert "api/v1/health" in api_routes()
    assert "api/v1/members/<ident:external_id>" in IDENTIFIER_ROUTES
    assert "api/v1/redemptions/<int:redemption_id>" in ROUTES_WITH_PARAMETERS


@pytest.mark.parametrize("route", ROUTES_WITH_PARAMETERS)
def test_hostile_path_parameters_never_cause_a_server_error(world, route):
    for value in HOSTILE_SEGMENTS:
        for method in METHODS:
            response = send(world, method, fill(route, value), data={}, format="json")
            assert_problem(response)


@pytest.mark.parametrize("route", IDENTIFIER_ROUTES)
@pytest.mark.parametrize("value", ["M1\x00", "\u202eM1", "a\x01b"])
def test_identifiers_with_control_or_bidi_characters_are_not_found(world, route, value):
    response = world.get(fill(route, value))
    assert_problem(response, 404)


HOSTILE_BODIES = [
    b'{"member": "M1\\u0000", "external_id": "\\u0000", "trace": {"\\u0000": "\\u0000"}}',
    b"\x00",
    b"\xff\xfe\xfd",
    b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"a": 1e999999, "b": NaN}',
    b"[]",
    b'"just a string"',
    b"null",
]


@pytest.mark.parametrize("route", api_routes())
def test_every_route_and_method_with_hostile_bodies(world, route):
    path = "/" + _PARAMETER_RE.sub(
        lambda m: "1" if m.group("converter") == "int" else "HOSTILE", route
    )
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for body in HOSTILE_BODIES:
            response = world.generic(method, path, data=body, content_type="application/json")
            assert_problem(response)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/members/M1/", "/api/v1/", "/api/v1/a/b/c/d"]
)
def test_unknown_urls_are_404_for_every_method(method, path):
    for api in (APIClient(), APIClient(enforce_csrf_checks=True)):
        response = send(api, method, path)
        assert_problem(response, 404)
        if method != "HEAD":
            assert response.json()["code"] == "not_found"


def test_unknown_urls_are_404_even_with_a_session_cookie(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw-123456", is_staff=True)
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(user)

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert_problem(send(session, method, "/api/v1/nothing-here"), 404)


def test_a_body_over_the_limit_is_413_payload_too_large(world):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    body = json.dumps({"external_id": "M1", "name": "x" * size})

    for method, path in [
        ("POST", "/api/v1/members"),
        ("POST", "/api/v1/batches/HOSTILE/claims"),
        ("PUT", "/api/v1/stores/S001"),
        ("POST", "/api/v1/redemptions"),
        ("POST", "/api/v1/nothing-here"),
    ]:
        response = send(world, method, path, data=body, content_type="application/json")
        assert assert_problem(response, 413)["code"] == "payload_too_large"


def test_the_parser_stops_reading_at_the_limit_even_without_a_content_length(settings):
    from riskcontrol.core.errors import PayloadTooLarge
    from riskcontrol.http.parsers import BoundedJSONParser

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    stream = io.BytesIO(json.dumps({"name": "x" * 5000}).encode())

    with pytest.raises(PayloadTooLarge):
        BoundedJSONParser().parse(stream)
    assert stream.tell() == 1001


@pytest.mark.parametrize("depth", [8, 64, 200, 1000, 5000, 100_000])
def test_deeply_nested_json_is_a_clear_400(world, depth):
    nested = "[" * depth + "]" * depth
    for method, path, body in [
        ("POST", "/api/v1/members", '{"external_id": "M1", "tags": ' + nested + "}"),
        (
            "POST",
            "/api/v1/batches/HOSTILE/claims",
            '{"member": "M1", "trace": {"a": ' + nested + "}}",
        ),
        ("POST", "/api/v1/redemptions", nested),
        ("PUT", "/api/v1/stores/S001", '{"name": ' + nested + "}"),
    ]:
        response = send(world, method, path, data=body, content_type="application/json")
        body = assert_problem(response)
        if depth > settings.API_JSON_MAX_DEPTH:
            assert (response.status_code, body["code"]) == (400, "parse_error")


@pytest.mark.parametrize(
    "trace",
    [
        {"a\x00b": "x"},
        {"k": "v\x00"},
        {"k": ["\x00"]},
        {"k": {"n\x00": 1}},
        {"\u202ek": "v"},
    ],
)
def test_nul_in_trace_keys_or_values_is_a_validation_error(world, trace):
    response = world.post(
        "/api/v1/batches/HOSTILE/claims", {"member": "M1", "trace": trace}, format="json"
    )
    body = assert_problem(response, 400)
    assert body["code"] == "validation_error"
    assert "trace" in body["errors"]


@pytest.mark.parametrize(
    ("method", "path", "field", "base"),
    [
        ("POST", "/api/v1/members", "external_id", {}),
        ("POST", "/api/v1/members", "name", {"external_id": "M2"}),
        ("POST", "/api/v1/members", "phone", {"external_id": "M2"}),
        ("POST", "/api/v1/members", "email", {"external_id": "M2"}),
        ("POST", "/api/v1/members", "tier", {"external_id": "M2"}),
        ("POST", "/api/v1/batches/HOSTILE/claims", "member", {}),
        ("POST", "/api/v1/batches/HOSTILE/claims", "channel", {"member": "M1"}),
        ("POST", "/api/v1/redemptions", "code", {"store": "S001"}),
        ("POST", "/api/v1/redemptions", "token", {"store": "S001"}),
        ("POST", "/api/v1/redemptions", "serial", {"store": "S001"}),
        ("POST", "/api/v1/redemptions", "store", {"code": "X"}),
        ("POST", "/api/v1/redemptions", "order_ref", {"code": "X", "store": "S001"}),
        ("PUT", "/api/v1/stores/S002", "name", {}),
        ("PUT", "/api/v1/stores/S002", "address", {"name": "n"}),
        ("PUT", "/api/v1/stores/S002", "group", {"name": "n"}),
    ],
)
@pytest.mark.parametrize("bad", ["a\x00b", "\u202eabc", "x\x1b[0m"])
def test_bad_characters_in_body_fields_never_cause_a_server_error(
    world, method, path, field, base, bad
):
    response = send(world, method, path, data={**base, field: bad}, format="json")
    assert_problem(response)


@pytest.mark.parametrize("field", ["external_id", "tier"])
@pytest.mark.parametrize("bad", ["M\x00", "M\u202e1", "M\x07", "M\n1"])
def test_identifiers_in_bodies_refuse_control_and_bidi_characters(world, field, bad):
    body = {"external_id": "M9", field: bad}
    response = world.post("/api/v1/members", body, format="json")
    assert assert_problem(response, 400)["errors"][field]


def test_identifiers_in_tags_and_claims_refuse_bidi_characters(world):
    tags = world.post(
        "/api/v1/members", {"external_id": "M9", "tags": ["\u202evip"]}, format="json"
    )
    claim = world.post("/api/v1/batches/HOSTILE/claims", {"member": "M\u202e1"}, format="json")
    store = world.post("/api/v1/redemptions", {"code": "X", "store": "S\u202e001"}, format="json")

    assert "tags" in assert_problem(tags, 400)["errors"]
    assert "member" in assert_problem(claim, 400)["errors"]
    assert "store" in assert_problem(store, 400)["errors"]


def test_a_33_character_store_code_is_a_validation_error(world):
    code = "S" * 33
    response = world.put(f"/api/v1/stores/{code}", {"name": "Too long"}, format="json")

    body = assert_problem(response, 400)
    assert body["code"] == "validation_error"
    assert "code" in body["errors"]
    assert world.get(f"/api/v1/stores/{code}").status_code == 404


@pytest.mark.parametrize(
    "body", [b"\x00", b'{"external_id": "M1\x00"}', b"\xff\xfe\x00", b"{\x00}"]
)
def test_raw_bad_bytes_in_a_body(world, body):
    response = world.generic("POST", "/api/v1/members", data=body, content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1\x00", "a" * 300, "[::1", "localhost:99999999", "x y"]
)
@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/members/M1", "/api/v1/nothing"])
def test_a_bad_host_under_the_api_is_a_problem_document(world, settings, host, path):
    settings.ALLOWED_HOSTS = ["testserver", "quanyi.example"]

    response = world.get(path, HTTP_HOST=host)

    body = assert_problem(response, 400)
    assert body["code"] == "bad_request"


def test_a_bad_host_outside_the_api_keeps_djangos_page(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]

    response = client.get("/admin/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert not response["Content-Type"].startswith(PROBLEM)


# --- NUL and control characters in reasons typed in the console and on the store page ---


@pytest.mark.parametrize("reason", ["refund\x00", "\x00", "a\x1bb"])
def test_a_nul_in_the_clerk_reversal_reason_is_refused_on_the_page(reason):
    from django.test import Client

    from redemption.models import Redemption, StoreStaff
    from redemption.services import redemption_create
    from riskcontrol.core.actors import Actor
    from tests.redemption.factories import claimed_code, make_staff

    store = make_store(code="S001")
    claim = claimed_code()
    redemption_create(store_code="S001", code=claim.code, actor=Actor.system("test"))
    make_staff("boss", store, StoreStaff.Role.MANAGER)
    manager = Client()
    manager.post("/store/login/", {"username": "boss", "password": "pw-staff-123"})
    redemption = Redemption.objects.get()

    response = manager.post(f"/store/redemptions/{redemption.pk}/reverse/", {"reason": reason})

    assert response.status_code == 400
    assert "The reason must not contain control characters." in response.content.decode()
    redemption.refresh_from_db()
    assert redemption.status == "completed"


@pytest.mark.parametrize("action", ["freeze", "close", "void", "pause"])
def test_a_nul_in_a_batch_action_reason_is_refused_with_a_sentence(console_client, action):
    from vouchers.models import BatchEvent, VoucherBatch

    batch = make_batch(quantity=2, code="NULREASON")
    operator = console_client("Operator")
    form = {
        "action": action,
        "_selected_action": [batch.pk],
        "confirmed": "yes",
        "reason": "leak\x00",
    }
    events_before = BatchEvent.objects.filter(batch=batch).count()

    response = operator.post("/admin/vouchers/voucherbatch/", form, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "must not contain control characters" in page.lower()
    after = VoucherBatch.objects.get(pk=batch.pk)
    assert (after.status, after.frozen) == (batch.status, batch.frozen)
    assert BatchEvent.objects.filter(batch=batch).count() == events_before


def test_a_nul_in_the_redemption_reversal_reason_in_the_console(console_client):
    from django.contrib.auth.models import Group, User

    from redemption.models import Redemption
    from redemption.services import redemption_create
    from riskcontrol.core.actors import Actor
    from tests.redemption.factories import claimed_code

    make_store(code="S001")
    claim = claimed_code()
    redemption_create(store_code="S001", code=claim.code, actor=Actor.system("test"))
    operator = console_client("Operator")
    redemption = Redemption.objects.get()
    assert User.objects.get(username="operator-user").groups.filter(
        pk=Group.objects.get(name="Operator").pk
    )

    response = operator.post(
        "/admin/redemption/redemption/",
        {
            "action": "reverse_selected",
            "_selected_action": [redemption.pk],
            "confirmed": "yes",
            "reason": "x\x00",
        },
    )

    assert response.status_code == 200
    redemption.refresh_from_db()
    assert redemption.status == "completed"


# --- NUL in query strings (console filters, store page, API) -----------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/vouchers/voucher/?status=%00",
        "/admin/vouchers/voucher/?q=%00",
        "/admin/members/member/?lifecycle_stage__exact=a%00",
        "/admin/redemption/store/?q=S%00",
        "/admin/vouchers/voucherbatch/?status__exact=%00",
        "/admin/redemption/redemption/?status__exact=%00",
        "/store/?x=%00",
        "/admin/members/member/?a%00=1",
    ],
)
def test_a_nul_in_a_console_query_string_is_a_clear_400(console_client, url):
    operator = console_client("Operator")

    response = operator.get(url)

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/api/v1/members/M1/vouchers?status=%00", "/api/v1/members/M1?page=%00", "/api/v1/x?%00"],
)
def test_a_nul_in_an_api_query_string_is_a_problem_document(world, url):
    body = assert_problem(world.get(url), 400)

    assert body["code"] == "bad_request"
    assert "NUL" in body["detail"]


# --- Identifiers refuse control and bidi characters in the services and the console ------


@pytest.mark.parametrize("bad", ["M\u202e1", "M\x001", "M\x1b1", "M\u20661"])
def test_member_upsert_refuses_unsafe_external_ids_and_tier_codes(bad):
    from members.models import Member
    from riskcontrol.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        member_upsert(external_id=bad)
    with pytest.raises(ValidationFailed) as refused_tier:
        member_upsert(external_id="M-OK", tier=bad)

    assert list(refused.value.errors) == ["external_id"]
    assert list(refused_tier.value.errors) == ["tier"]
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "S" * 33}, "code"),
        ({"code": "S\u202e1"}, "code"),
        ({"code": "S\x001"}, "code"),
        ({"name": "a\x00b"}, "name"),
        ({"address": "\x1b[31m"}, "address"),
        ({"group": "g\x00"}, "group"),
    ],
)
def test_store_upsert_refuses_unsafe_text(fields, field):
    from redemption.models import Store
    from redemption.services import store_upsert
    from riskcontrol.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        store_upsert(**{"code": "S1", "name": "Store", **fields})

    assert list(refused.value.errors) == [field]
    assert not Store.objects.exists()


def test_the_console_refuses_unsafe_identifiers_with_a_sentence_on_the_field(console_client):
    from members.models import Member
    from redemption.models import Store

    operator = console_client("Operator")

    member = operator.post(
        "/admin/members/member/add/",
        {"external_id": "M\u202e1", "name": "x", "lifecycle_stage": "new", "points": 0},
    )
    store = operator.post(
        "/admin/redemption/store/add/", {"code": "S\u202e1", "name": "x", "active": "on"}
    )

    for page in (member, store):
        assert page.status_code == 200
        assert "Must not contain control characters or invisible direction marks." in (
            page.content.decode()
        )
    assert not Member.objects.exists()
    assert not Store.objects.exists()


@pytest.mark.parametrize("key", ["k\x00", "\x01\x02", "k\u202e1", "x" * 256, ""])
def test_hostile_idempotency_keys_are_a_validation_error(world, key):
    response = world.post(
        "/api/v1/members", {"external_id": "M1"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    body = assert_problem(response, 400)
    assert "Idempotency-Key" in body["errors"]


@pytest.mark.parametrize(
    "header", ["Api-Key \x00", "Api-Key abc\x00.def", "Api-Key a.b\u202e", "Api-Key " + "a" * 5000]
)
def test_hostile_authorization_headers_are_401(header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get("/api/v1/members/M1")

    assert assert_problem(response, 401)["code"] == "unauthenticated"


# --- Hostile card-stock files (issue 9, items 4, 9, 10) -------------------------------------
# Through the console upload and the command line: each ends in a clear refusal or in row
# errors, never a server error, a stuck job or an upload left on disk.
CODES = [f"HOSTILE-{i:05d}" for i in range(5)]
PAST_COLUMNS = "has values past column 64"
NOT_XLSX = "The file is not a readable XLSX workbook."


def _csv(text: str) -> bytes:
    return text.encode()


# (id, file name, bytes or a function of nothing, the end: ("failed", words of the reason)
# or ("validated", {report kind: count}), settings to apply)
HOSTILE_FILES = [
    ("stale-dimension", "stock.xlsx", lambda: hostile.stale_dimension_workbook(CODES),
     ("validated", {"accepted": 5}), {}),
    ("huge-string-cell", "stock.xlsx",
     lambda: hostile.huge_string_workbook(CODES[:3], 30_000_000),
     ("validated", {"accepted": 3, "too_long": 1}), {}),
    ("value-in-column-104", "stock.xlsx", lambda: hostile.value_in_column("CZ"),
     ("failed", "Row 3 " + PAST_COLUMNS), {}),
    ("2M-cell-row-xlsx", "stock.xlsx", lambda: hostile.wide_row_workbook(2_000_000),
     ("failed", "Row 3 " + PAST_COLUMNS), {}),
    ("shared-string-bomb", "stock.xlsx", lambda: hostile.many_shared_strings_workbook(5_000),
     ("failed", "more than 1000 distinct texts"), {"CARD_STOCK_XLSX_MAX_SHARED_STRINGS": 1000}),
    ("expanding-part", "stock.xlsx", lambda: hostile.huge_string_workbook(CODES[:1], 12_000_000),
     ("failed", "expands to more than 8 MB"), {"CARD_STOCK_XLSX_MAX_PART_BYTES": 8 * 1024 * 1024}),
    ("nul-in-serial-and-region", "stock.csv",
     lambda: _csv("code,serial,region\nNUL-00001,SN\x001,north\nNUL-00002,SN2,no\x00rth\n"
                  "NUL-00003,SN3,south\n"),
     ("validated", {"accepted": 1, "illegal_characters": 2}), {}),
    ("nul-in-xlsx-xml", "stock.xlsx",
     lambda: hostile.xlsx(hostile.sheet_xml(hostile.inline_row(1, "code")
                                            + hostile.inline_row(2, "A\x00B"))),
     ("failed", NOT_XLSX), {}),
    ("random-bytes-named-xlsx", "stock.xlsx", lambda: random.Random(9).randbytes(50_000),
     ("failed", "The file cannot be read"), {}),
    ("zip-header-then-garbage", "stock.xlsx",
     lambda: b"PK\x03\x04" + random.Random(9).randbytes(50_000),
     ("failed", NOT_XLSX), {}),
    ("2M-cell-row-csv", "stock.csv", lambda: _csv("code\nWIDE-1" + "," * 2_000_000 + "x\n"),
     ("failed", "Line 2 of the file is longer than 65536 characters."), {}),
    ("doctype-entities", "stock.xlsx",
     lambda: hostile.xlsx('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaa">]>'
                          f'<worksheet xmlns="{hostile.MAIN}"><sheetData/></worksheet>'),
     ("failed", "document type declaration"), {}),
]  # fmt: skip


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    return tmp_path / "sealed"


def files_under(path):
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "file_name", "content", "end", "limits"), HOSTILE_FILES,
                         ids=[case[0] for case in HOSTILE_FILES])  # fmt: skip
def test_console_upload_of_a_hostile_file_ends_cleanly(
    console_client, upload_dir, settings, name, file_name, content, end, limits
):
    for setting, value in limits.items():
        setattr(settings, setting, value)
    operator = console_client("Operator")
    batch = make_batch(quantity=None, kind="card_secret", code="HOSTILE")

    response = operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/",
        {"file": SimpleUploadedFile(file_name, content())},
    )

    job = CardStockImport.objects.get()
    assert response.status_code == 302
    page = operator.get(response["Location"])
    assert page.status_code == 200
    status, expected = end
    assert job.status == status
    if status == "failed":
        assert expected in job.error
        assert expected in page.content.decode()
        assert files_under(upload_dir) == []  # the sealed upload is gone
        assert job.events.filter(action="failed").exists()
    else:
        for kind, count in expected.items():
            assert job.report["by_kind"].get(kind) == count, job.report["by_kind"]
        assert job.rows_total == sum(expected.values())
    assert not Voucher.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "file_name", "content", "end", "limits"), HOSTILE_FILES,
                         ids=[case[0] for case in HOSTILE_FILES])  # fmt: skip
def test_command_line_import_of_a_hostile_file_ends_cleanly(
    tmp_path, settings, name, file_name, content, end, limits
):
    for setting, value in limits.items():
        setattr(settings, setting, value)
    batch = make_batch(quantity=None, kind="card_secret", code="HOSTILE")
    path = tmp_path / file_name
    path.write_bytes(content())
    status, expected = end

    if status == "failed":
        with pytest.raises(CommandError) as refused:
            call_command("import_card_stock", str(path), "--batch", batch.code)
        assert expected in str(refused.value)
        job = CardStockImport.objects.get()
        assert job.status == "failed"
        assert job.error and job.error in str(refused.value)
    elif set(expected) == {"accepted"}:
        call_command("import_card_stock", str(path), "--batch", batch.code)
        job = CardStockImport.objects.get()
        assert (job.status, job.rows_imported) == ("imported", expected["accepted"])
    else:
        with pytest.raises(SystemExit):  # rows rejected: blocked, exit status 1
            call_command("import_card_stock", str(path), "--batch", batch.code)
        job = CardStockImport.objects.get()
        rejected = sum(count for kind, count in expected.items() if kind != "accepted")
        assert (job.status, job.rows_rejected) == ("failed", rejected)
    assert job.status != "importing"
