"""The zh-hans walk: every console page and the store page, read by a zh-hans user, shows
no English.

What is walked (derived, never a hand list, so a new page joins by itself):
- for each model in `admin.site._registry`: every URL its ModelAdmin defines
  (`get_urls()`: changelist, add, history, delete, change and every custom view), with
  `object_id`/`pk`/`id` filled in from the fixture rows below;
- every site-level URL of the admin namespace (index, app lists, password change …);
- every URL of the store page (`redemption.urls`), as a signed-in clerk, plus the pages a
  clerk sees after a check, a refusal and a redemption.

"English" is defined precisely: the visible text of the page (text nodes outside
<script>, <style>, <textarea> and <template>, plus the attributes a reader sees or hears:
title, placeholder, aria-label, alt, and the value of buttons), split into words on
anything but ASCII letters and digits; a word counts when it is ≥ 3 ASCII letters and
nothing else, and is not in ALLOWED below. A CSV answer is judged by its header line, a
JSON answer by its human-facing strings (keys ending in label/message/detail/text/title).

A URL that cannot be walked fails the test (HTTP status other than 200 after redirects
inside the site), unless it is named in NOT_A_PAGE with the reason. The failure message is
the list "URL → English words" over every page, so one run shows all that is left.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zoneinfo
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from axes.models import AccessLog
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from riskcontrol.core.actors import Actor

pytestmark = pytest.mark.django_db(transaction=True)

# Words that may stay as they are on a zh-hans page. Keep this short and say why.
ALLOWED = {
    # Product and format names, written in Latin letters in Chinese too.
    "Quanyi",
    "API",
    "CSV",
    "XLSX",
    "JSON",
    "QR",
    "Redis",
    "Celery",
    "UTF",  # "UTF-8" (the encoding of an upload)
    "GBK",  # the encoding of an upload
    "CNY",  # currency code (data)
    "Key",  # "Api-Key <key>", the literal header a partner sends
    "Api",
    "Control",  # the keyboard key in Django's own "按住 Control 键" hint
    "Command",  # ditto, the Mac key
    "Mac",
    "Cron",  # crontab expressions: a format name
    "AMQP",  # protocol, queue server and standard names in the periodic-task help texts
    "RabbitMQ",
    "UTC",
    "LDAP",  # in Django's own zh_Hans help text of the user form
    "csv",  # the file formats as django-import-export lists them
    "xlsx",
    "POS",  # the till: 收银 POS is how Chinese retail says it
    "English",  # the language switcher names each language in itself
    # The English weekday syntax time windows also accept, quoted as input in help texts.
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
    "Sun",
    # Data this test creates: usernames.
    "root",
    "ROOT",
    "clerk",
    "Asia",  # the platform's time zone, Asia/Shanghai, where a schedule shows it
    "Shanghai",
}

# URL names of the admin / store that are not pages a person reads, with the reason.
NOT_A_PAGE = {
    "logout": "POST only: signs out",
    "autocomplete": "JSON for the select2 widget; needs a field to search",
    "view_on_site": "redirects to the public site",
    "jsi18n": "the JavaScript catalog: checked in a real browser (tests/e2e/test_zh_hans_js.py)",
    "store-logout": "POST only: signs out",
    "store-check": "POST only: walked below with a real check",
    "store-redeem": "POST only: walked below with a real redemption",
    "store-reverse": "POST only: a manager's reversal",
    "riskcontrol_idempotencykey_purge_expired": "POST only: a confirmed action",
    "vouchers_voucher_find_by_code": "POST only: the code travels in the body",
    "vouchers_cardstockimport_confirm": "POST only: confirms an import",
    "vouchers_cardstockimport_abandon": "POST only: abandons an import",
    "members_member_process_import": "POST only: django-import-export's second step",
    "redemption_store_process_import": "POST only: django-import-export's second step",
}

_WORD = re.compile(r"[A-Za-z0-9]+")
_SEEN_ATTRIBUTES = {"title", "placeholder", "aria-label"}
_BUTTON_TYPES = {"submit", "button", "reset"}
# Not prose: scripts and styles, form values (a <textarea>'s text is its value), and
# code: <code>/<kbd>/<samp> hold identifiers a partner or operator types as they are (an
# API scope such as members:read, a task's dotted path).
_NOT_PROSE = {"script", "style", "textarea", "template", "code", "kbd", "samp"}
# A time-zone menu lists IANA names (Asia/Shanghai): identifiers, not English.
_TIME_ZONES = zoneinfo.available_timezones()


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: list[str] = []  # open elements whose text is not prose

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in _NOT_PROSE or (tag == "option" and attributes.get("value") in _TIME_ZONES):
            self._hidden.append(tag)
        for name in _SEEN_ATTRIBUTES:
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and (attributes.get("type") or "").lower() in _BUTTON_TYPES:
            self.parts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def english_words(text: str) -> set[str]:
    return {
        word
        for word in _WORD.findall(text)
        if len(word) >= 3 and word.isascii() and word.isalpha() and word not in ALLOWED
    }


def visible_text(response) -> str:
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8-sig", errors="replace")
    if "csv" in content_type:
        return "\n".join(next(csv.reader(io.StringIO(text)), []))
    if "json" in content_type:
        found: list[str] = []

        def collect(value, key=""):
            if isinstance(value, dict):
                for k, v in value.items():
                    collect(v, k)
            elif isinstance(value, list):
                for v in value:
                    collect(v, key)
            elif isinstance(value, str) and re.search(r"(label|message|detail|text|title)$", key):
                found.append(value)

        collect(json.loads(text))
        return "\n".join(found)
    parser = _VisibleText()
    parser.feed(text)
    return "\n".join(parser.parts)


# --- The fixture: at least one row of every model the console shows -------------------
# Test data is Chinese or codes with digits, so that what the walk finds is the product's.

_ACTOR = Actor.system("测试")


def _card_stock_import(operator: Client, settings, tmp_path):
    from tests.vouchers.factories import make_batch

    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    batch = make_batch(
        quantity=None, kind="card_secret", code="K2026", name="视频月卡", actor=_ACTOR
    )
    rows = [
        "code,serial,expires_at",
        "KM-ABCD-0001,SN-1,2030-01-01",
        "KM-ABCD-0001,SN-2,2030-01-01",  # duplicate_in_file
        "KM-ABCD-0003,SN-3,明天",  # bad_date
        ",SN-4,2030-01-01",  # empty
        "K" * 300 + ",SN-5,2030-01-01",  # too_long
    ]
    upload = SimpleUploadedFile("卡密.csv", "\n".join(rows).encode(), content_type="text/csv")
    response = operator.post(f"/admin/vouchers/voucherbatch/{batch.pk}/import/", {"file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]


def _claimed(code: str, **batch):
    from tests.vouchers.factories import make_batch
    from vouchers.services import voucher_claim

    make_batch(code=code, quantity=3, per_member_limit=None, actor=_ACTOR, **batch)
    return voucher_claim(batch_code=code, member_external_id="M1", actor=_ACTOR)


def _world(settings, tmp_path, operator: Client) -> dict:
    from axes.models import AccessAttempt, AccessFailureLog
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from members.services import member_upsert
    from redemption.models import StoreStaff
    from redemption.services import redemption_create
    from riskcontrol.models import IdempotencyKey, RiskAlert
    from tests.members.factories import TagFactory, TierFactory
    from tests.redemption.factories import make_staff, make_store, rule_for
    from tests.riskcontrol.factories import partner_client_with_key
    from vouchers.models import Voucher

    TierFactory(code="vip1", name="金卡")
    TagFactory(code="xk1", name="新客")
    member_upsert(external_id="M1", name="张三", phone="13912345678")
    store = make_store("S001", name="南京西路店", group="上海")
    clerk = make_staff("clerk", store)
    client, _key = partner_client_with_key(scopes=["members:read"], name="合作方甲")
    IdempotencyKey.objects.create(
        client=client,
        key="k-0001",
        fingerprint="0" * 64,
        expires_at=timezone.now() + timezone.timedelta(days=1),
    )
    RiskAlert.objects.create(
        kind=RiskAlert.Kind.GUESSING_BURST, subject="S001", detail="12", count=12
    )
    # Vouchers in several states, a redemption rule with a store, a redemption.
    redeemed = _claimed("Q2026A", name="满100减20", min_order_amount=Decimal("100.00"))
    rule_for(redeemed.voucher.batch, store_scope="listed", stores=[store])
    redemption_create(
        store_code="S001", code=redeemed.code, order_amount=Decimal("120.00"), actor=_ACTOR
    )
    claimed = _claimed("Q2026B", name="会员礼券")
    _card_stock_import(operator, settings, tmp_path)
    # Login attempts (django-axes).
    now = timezone.now()
    seen = {
        "ip_address": "10.0.0.1",
        "user_agent": "浏览器",
        "http_accept": "*/*",
        "path_info": "/",
    }
    AccessAttempt.objects.create(username="root", failures_since_start=1, **seen)
    AccessLog.objects.create(username="root", **seen)
    AccessFailureLog.objects.create(username="root", **seen)
    # Periodic tasks (django-celery-beat), one of each schedule kind; the tasks are ours.
    every_hour = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    CrontabSchedule.objects.create(minute="0", hour="3")
    SolarSchedule.objects.create(event="sunrise", latitude=31.23, longitude=121.47)
    ClockedSchedule.objects.create(clocked_time=now)
    PeriodicTask.objects.create(
        name="expire-vouchers", task="vouchers.tasks.vouchers_expire_due_task", interval=every_hour
    )
    _member_program(now)
    _benefits()
    assert StoreStaff.objects.exists() and Voucher.objects.filter(pk=claimed.voucher.pk).exists()
    return {"clerk": clerk, "code": claimed.code}


def _member_program(now) -> None:
    """One row of each member-program table: a rule, the policy, an event with the
    points and growth it gave, the tier change it caused, a segment."""
    from members.models import (
        EarningRule,
        GrowthEntry,
        Member,
        MemberEvent,
        PointsEntry,
        Segment,
        Tag,
        TierPolicy,
    )
    from members.services import member_tier_evaluate
    from tests.members.factories import TierFactory

    TierFactory(code="normal1", name="普通会员", rank=1, threshold=0)
    TierFactory(code="silver1", name="银卡会员", rank=2, threshold=100)
    rule = EarningRule.objects.create(
        code="r1", name="消费积分", event="purchase", points_per_yuan=1, growth_per_yuan=1
    )
    TierPolicy.current()
    member = Member.objects.get(external_id="M1")
    event = MemberEvent.objects.create(
        member=member,
        event_id="e-1",
        kind="purchase",
        occurred_at=now,
        amount=Decimal("120.00"),
        order_ref="O-1",
        effects={"points": 120, "growth": 120},
        **MemberEvent.actor_stamp(_ACTOR),
    )
    PointsEntry.objects.create(
        member=member,
        kind="earn",
        amount=120,
        balance_after=120,
        remaining=120,
        event=event,
        rule=rule,
        expires_at=now + timezone.timedelta(days=365),
        **PointsEntry.actor_stamp(_ACTOR),
    )
    GrowthEntry.objects.create(member=member, amount=120, occurred_at=now, event=event)
    Member.objects.filter(pk=member.pk).update(points=120, growth_value=120)
    member.refresh_from_db()
    member_tier_evaluate(member=member, now=now, actor=_ACTOR, event=event)
    Segment.objects.create(
        code="k1",
        name="高价值客",
        conditions={"tiers": ["silver1"]},
        tag=Tag.objects.get(code="xk1"),
    )


def _benefits() -> None:
    """The benefits section: a physical gift waiting to ship (its fulfilment page), a
    coupon with a fallback, a pack granted whole, a privilege, a matrix cell
    saved (and audited) as the grid saves it."""
    from entitlements.models import Benefit
    from entitlements.services import Cell, benefit_grant, tier_matrix_save
    from members.models import Tier
    from tests.entitlements.factories import add_fallback, add_item, add_source, make_benefit

    gift = make_benefit(stock=None, code="MUG1", name="保温杯", kind="physical")
    benefit_grant(member="M1", benefit=gift, via="operator", actor=_ACTOR, address="上海市某路1号")
    coffee = make_benefit(stock=None, code="COFFEE1", name="咖啡券")
    add_source(coffee, 3, code="C2026", name="咖啡批次")
    tea = make_benefit(stock=None, code="TEA1", name="茶饮券")
    add_source(tea, 3, code="T2026", name="茶饮批次")
    add_fallback(coffee, tea)
    pack = make_benefit(stock=None, code="PACK1", name="迎新礼包", kind=Benefit.Kind.PACK)
    add_item(pack, coffee)
    benefit_grant(member="M1", benefit=pack, via="operator", actor=_ACTOR)
    make_benefit(stock=None, code="VIP1", name="贵宾厅", kind="privilege", valid_days=30)
    vip = Tier.objects.get(code="vip1")
    tier_matrix_save(
        cells={(vip.pk, coffee.pk): Cell(2, "month", "claimable")}, shown={}, actor=_ACTOR
    )


# --- Walking ---------------------------------------------------------------------------


def _patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _fill(route: str, pk) -> str:
    return _PARAMETER.sub(lambda _m: str(pk), route)


def _console_urls() -> list[tuple[str, list[str]]]:
    """(URL name, candidate URLs): every admin URL, the ones with a primary key once per
    fixture row of their model (the first that answers 200 is the page)."""
    found: list[tuple[str, list[str]]] = []
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="root")
    for model, model_admin in admin.site._registry.items():
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        rows = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:5])
        assert rows, f"no fixture row for {model._meta.label}: add one to _world()"
        for route, pattern in _patterns(model_admin.get_urls()):
            if not pattern.name:
                continue  # "<object_id>/" redirects to the change page, walked under its name
            # Pages the console itself does not offer (no add button, no delete link).
            if pattern.name.endswith("_add") and not model_admin.has_add_permission(request):
                continue
            if pattern.name.endswith("_delete") and not model_admin.has_delete_permission(
                request, model._default_manager.get(pk=rows[0])
            ):
                continue
            if _PARAMETER.search(route):
                found.append((pattern.name, ["/" + base + _fill(route, pk) for pk in rows]))
            else:
                found.append((pattern.name, ["/" + base + route]))
    model_prefixes = {
        f"admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry
    }
    for route, pattern in _patterns(get_resolver().url_patterns):
        if not route.startswith("admin/") or not pattern.name:
            continue
        if any(route.startswith(prefix) for prefix in model_prefixes):
            continue
        if pattern.name == "app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            found.append((pattern.name, [f"/admin/{label}/" for label in labels]))
            found.extend(
                (pattern.name, [reverse("admin:app_list", args=[label])]) for label in labels
            )
            continue
        user_id = User.objects.get(username="root").pk
        found.append((pattern.name, ["/" + _fill(route, user_id)]))
    return found


def _store_urls() -> list[tuple[str, list[str]]]:
    return [
        (pattern.name, ["/" + _fill(route, 1)])
        for route, pattern in _patterns(get_resolver().url_patterns)
        if route.startswith("store/") and pattern.name
    ]


def _read(client: Client, url: str, problems: dict, english: dict, method="get", data=None):
    """Read one page; a POST may answer a refusal (4xx) page, which is read all the same."""
    response = getattr(client, method)(url, data or {}, follow=True)
    final = response.request["PATH_INFO"]
    if response.status_code != 200 and not (method == "post" and response.status_code < 500):
        problems[url] = f"HTTP {response.status_code} (at {final})"
        return None
    text = visible_text(response)
    words = english_words(text)
    if words:
        english[url if final == url else f"{url} → {final}"] = sorted(words)
        _PHRASES.update(
            phrase.strip() for phrase in re.split(r"\s{2,}|\n", text) if english_words(phrase)
        )
    return response


_PHRASES: set[str] = set()  # the English text itself, written next to the report


def _walk(client: Client, urls, problems: dict, english: dict) -> None:
    for name, candidates in urls:
        if name in NOT_A_PAGE:
            answer = client.get(candidates[0])
            if answer.status_code == 200 and "html" in answer.get("Content-Type", ""):
                problems[candidates[0]] = f"{name} answers GET: take it out of NOT_A_PAGE"
            continue
        misses = []
        for url in candidates:
            response = client.get(url, follow=True)
            if response.status_code == 200:
                _read(client, url, problems, english)
                break
            misses.append(f"{url}: HTTP {response.status_code}")
        else:
            problems[candidates[0]] = "cannot be walked: " + "; ".join(misses)


def _report(english: dict, problems: dict) -> str:
    lines = [f"{url} → {' '.join(words)}" for url, words in sorted(english.items())]
    lines += [f"{url} → NOT WALKED: {why}" for url, why in sorted(problems.items())]
    return "\n".join(lines)


def test_every_console_page_and_the_store_page_speak_chinese(settings, tmp_path):
    # No password: its hash (random letters) would show on the user page.
    root = User.objects.create_superuser("root", password=None)
    operator = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    operator.force_login(root)
    world = _world(settings, tmp_path, operator)
    # force_login has no request, so django-axes logs it with "<unknown>" browser and
    # path; a real sign-in records the browser's own. Not the product's text: drop it.
    AccessLog.objects.filter(user_agent="<unknown>").delete()
    english: dict[str, list[str]] = {}
    problems: dict[str, str] = {}

    _walk(operator, _console_urls(), problems, english)
    _read(Client(HTTP_ACCEPT_LANGUAGE="zh-hans"), "/admin/login/", problems, english)

    # The store page, as its clerk.
    clerk = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    _read(clerk, "/store/login/", problems, english)
    clerk.force_login(world["clerk"])
    _walk(clerk, [u for u in _store_urls() if u[0] != "store-login"], problems, english)
    _read(clerk, "/store/check/", problems, english, "post", {"code": "NO-SUCH-CODE-1"})
    _read(clerk, "/store/check/", problems, english, "post", {"code": world["code"]})
    _read(clerk, "/store/redeem/", problems, english, "post", {"code": world["code"]})
    _read(clerk, "/store/redeem/", problems, english, "post", {"code": world["code"]})

    report = _report(english, problems)
    # The report and the English phrases themselves, for whoever fixes them (var/).
    written = {"zh_hans_walk.txt": report, "zh_hans_walk_phrases.txt": "\n".join(sorted(_PHRASES))}
    for name, text in written.items():
        path = settings.BASE_DIR / "var" / name
        if report:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text + "\n")
        else:
            path.unlink(missing_ok=True)
    assert not report, "English on zh-hans pages (URL → words):\n" + report


def test_the_walk_sees_english_where_there_is_english():
    """The detector itself: it must not pass a page because it reads nothing."""
    page = (
        "<html><head><title>Vouchers</title><style>.x{}</style><script>var abc;</script></head>"
        '<body><p>卡券 Quanyi S001 EXT00001</p><input type="submit" value="Save">'
        '<input type="text" value="data" placeholder="Search"><a title="Open">打开</a>'
        "<textarea>ignored text</textarea><code>members:read</code>"
        '<select><option value="Asia/Shanghai">Asia/Shanghai</option><option>Other</option>'
        "</select></body></html>"
    )
    parser = _VisibleText()
    parser.feed(page)

    assert english_words(" ".join(parser.parts)) == {
        "Vouchers",
        "Save",
        "Search",
        "Open",
        "Other",
    }
