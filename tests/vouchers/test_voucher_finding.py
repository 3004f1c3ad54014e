"""Finding a voucher from the console's one search box (serial, supplier serial, member
id or pasted code) without a code ever reaching a URL or a log; the voucher page in
readable fields, without its sealed code, index or key id."""

import io
import logging
import re
import threading
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.test import Client

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.cardstock import card_stock_import
from vouchers.models import Voucher
from vouchers.secrets import fold_code
from vouchers.services import voucher_claim, voucher_reveal

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/vouchers/voucher/"
SEARCH = f"{CHANGELIST}search/"


@pytest.fixture
def claimed():
    member_upsert(external_id="M-FIND")
    make_batch(quantity=3, code="FIND", per_member_limit=None)
    return voucher_claim(
        batch_code="FIND",
        member_external_id="M-FIND",
        actor=Actor.system(),
        trace={"campaign": "spring", "source": "mini-program"},
    )


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def code_forms(code: str) -> list[str]:
    """The ways a code could leak: as shown, folded, and in lower case."""
    return [code, fold_code(code), code.lower(), code.replace("-", "")]


def test_the_list_has_one_search_box_and_it_posts(operator, claimed):
    page = operator.get(CHANGELIST).content.decode()

    forms = re.findall(r"<form[^>]*>", page)
    search = [form for form in forms if 'id="changelist-search"' in form]
    assert len(search) == 1
    assert 'method="post"' in search[0]
    assert f'action="{SEARCH}"' in search[0]
    assert page.count('name="q"') == 1
    assert 'id="find-by-code"' not in page  # the second box is gone


def test_a_pasted_code_goes_to_the_voucher_page_by_id(operator, claimed):
    pasted = claimed.code.lower().replace("-", " ")

    response = operator.post(SEARCH, {"q": pasted})

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{claimed.voucher.pk}/change/"
    assert not any(form in response["Location"] for form in code_forms(claimed.code))


@pytest.mark.parametrize("typed", ["FIND-000001", "find-000001", "  FIND-000001 "])
def test_a_serial_goes_to_the_voucher_page(operator, claimed, typed):
    response = operator.post(SEARCH, {"q": typed})

    voucher = Voucher.objects.get(serial="FIND-000001")
    assert response["Location"] == f"{CHANGELIST}{voucher.pk}/change/"


def test_a_member_id_lists_that_members_vouchers(operator, claimed):
    member_upsert(external_id="M-OTHER")
    voucher_claim(batch_code="FIND", member_external_id="M-OTHER", actor=Actor.system())

    response = operator.post(SEARCH, {"q": "M-FIND"}, follow=True)

    assert response.redirect_chain == [(f"{CHANGELIST}?q=M-FIND", 302)]
    listed = list(response.context["cl"].result_list)
    assert listed == [claimed.voucher]
    assert 'value="M-FIND"' in response.content.decode()  # the box shows what was searched


def test_a_supplier_serial_goes_to_its_voucher(operator):
    batch = make_batch(quantity=None, kind="card_secret", code="SUPP")
    data = b"code,serial\nSUPP-SECRET-1,SN-77\n"
    card_stock_import(
        batch=batch, open_file=lambda: io.BytesIO(data), file_name="s.csv", actor=Actor.system()
    )

    response = operator.post(SEARCH, {"q": "SN-77"})

    voucher = Voucher.objects.get(supplier_serial="SN-77")
    assert response["Location"] == f"{CHANGELIST}{voucher.pk}/change/"


def test_a_supplier_serial_held_by_several_vouchers_lists_them(operator):
    for code in ("SUPA", "SUPB"):
        batch = make_batch(quantity=None, kind="card_secret", code=code)
        data = f"code,serial\n{code}-SECRET-1,1234567890123456\n".encode()
        card_stock_import(
            batch=batch,
            open_file=lambda d=data: io.BytesIO(d),
            file_name="s.csv",
            actor=Actor.system(),
        )

    response = operator.post(SEARCH, {"q": "1234567890123456"}, follow=True)

    # a 16-digit card number is shaped like a code, yet it is a supplier serial: listed
    assert response.redirect_chain == [(f"{CHANGELIST}?q=1234567890123456", 302)]
    assert len(response.context["cl"].result_list) == 2


def test_nothing_found_is_said_without_echoing_what_was_typed(operator, claimed):
    response = operator.post(SEARCH, {"q": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, follow=True)

    page = response.content.decode()
    assert "No voucher has this serial or code, and no member has this id." in page
    assert "ZZZZ" not in page
    assert response.redirect_chain == [(CHANGELIST, 302)]


def test_the_search_view_takes_no_get(operator, claimed):
    response = operator.get(SEARCH, {"q": claimed.code})

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST


def test_a_viewer_without_voucher_access_is_refused(console_client, claimed):
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.create_user("nobody", is_staff=True))

    assert client.post(SEARCH, {"q": claimed.code}).status_code == 403


@pytest.mark.parametrize("shape", ["real", "generated-shaped"])
def test_a_code_typed_into_the_address_is_not_searched_nor_echoed(operator, claimed, shape):
    typed = claimed.code if shape == "real" else "ABCD-EFGH-JKMN-PQRS"

    response = operator.get(CHANGELIST, {"q": typed, "status__exact": "claimed"}, follow=True)

    assert response.redirect_chain == [(f"{CHANGELIST}?status__exact=claimed", 302)]
    page = response.content.decode()
    assert "Codes are not searched from the address bar" in page
    assert "Paste the code into the search box: it is sent privately." in page
    assert not any(form in page for form in code_forms(typed))


def test_a_serial_in_the_address_is_searched_as_before(operator, claimed):
    response = operator.get(CHANGELIST, {"q": claimed.voucher.serial})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [claimed.voucher]


def test_refusals_and_the_search_box_help_are_in_chinese(operator, claimed):
    page = operator.get(
        CHANGELIST, {"q": claimed.code}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    assert "券码不会通过地址栏搜索" in page
    assert "序列号、供应商卡号、会员 ID 或粘贴的券码" in page


# --- the voucher page ------------------------------------------------------------------


def test_the_voucher_page_shows_no_sealed_code_index_or_key_id(operator, claimed):
    voucher = claimed.voucher
    voucher.refresh_from_db()

    page = operator.get(f"{CHANGELIST}{voucher.pk}/change/").content.decode()

    for hidden in ("secret_ciphertext", "secret_index", "key_id", "Secret index", "Key id"):
        assert hidden not in page
    assert voucher.key_id not in page
    assert bytes(voucher.secret_index).hex() not in page
    assert not any(form in page for form in code_forms(claimed.code))


def test_the_voucher_page_reads_in_fields_and_named_states_in_chinese(operator, claimed):
    voucher_reveal(voucher=claimed.voucher, actor=Actor.system("support"), reason="lost SMS")

    page = operator.get(
        f"{CHANGELIST}{claimed.voucher.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    text = re.sub(r"<[^>]+>", "", page)
    assert "活动: spring" in text  # the trace, one "label: value" row per key
    assert "来源: mini-program" in text
    assert "原因: lost SMS" in text  # an event's context
    assert "&quot;campaign&quot;" not in page and "&quot;reason&quot;" not in page  # no JSON
    events = page[page.index('id="events-group"') :]
    assert "可领取" in events and "已领取" in events  # from / to by their names
    assert ">available<" not in events and ">claimed<" not in events


# --- no code in any log or URL (the runserver access log, captured) --------------------


@pytest.mark.django_db(transaction=True)
def test_the_search_flow_leaves_the_code_in_no_log_line_or_url(caplog):
    """A real HTTP server (Django's runserver request handler, which logs every request
    line to `django.server` as gunicorn's access log does) serves the list; the search
    box's POST finds the voucher. No captured log record, no request line, no redirect
    and no Referer holds the code."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("finder", password="pw-finder-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    member_upsert(external_id="M-LOG")
    make_batch(quantity=2, code="LOGS", per_member_limit=None)
    code = voucher_claim(batch_code="LOGS", member_external_id="M-LOG", actor=Actor.system()).code

    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())

    def serve():
        try:
            server.serve_forever()
        finally:
            connections.close_all()  # this thread's connection, before the test database goes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    seen_urls: list[str] = []

    class Recorder(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code_, msg, headers, newurl):
            seen_urls.append(newurl)
            return super().redirect_request(req, fp, code_, msg, headers, newurl)

    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Recorder())
    # django.server does not propagate to the root logger: listen to it directly too.
    access_log = logging.getLogger("django.server")
    access_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, "django.server"):
            login = browser.open(f"{base}/admin/login/").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
            browser.open(
                f"{base}/admin/login/?next={CHANGELIST}",
                urllib.parse.urlencode(
                    {
                        "username": "finder",
                        "password": "pw-finder-123",
                        "csrfmiddlewaretoken": token,
                    }
                ).encode(),
            )
            listing = browser.open(f"{base}{CHANGELIST}").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', listing).group(1)
            search = urllib.request.Request(  # noqa: S310 (our own local server)
                f"{base}{SEARCH}",
                urllib.parse.urlencode({"q": code.lower(), "csrfmiddlewaretoken": token}).encode(),
                headers={"Referer": f"{base}{CHANGELIST}"},
            )
            landed = browser.open(search)
            page = landed.read().decode()
    finally:
        access_log.removeHandler(caplog.handler)
        server.shutdown()
        server.server_close()
        thread.join(5)

    voucher = Voucher.objects.get(batch__code="LOGS", member__external_id="M-LOG")
    assert landed.url == f"{base}{CHANGELIST}{voucher.pk}/change/"
    assert voucher.serial in page
    request_lines = [r.getMessage() for r in caplog.records if r.name == "django.server"]
    assert any(f"POST {SEARCH}" in line for line in request_lines)  # the capture works
    everything = "\n".join([*(r.getMessage() for r in caplog.records), *seen_urls, landed.url])
    assert not any(form in everything for form in code_forms(code))
