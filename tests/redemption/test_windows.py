# ruff: noqa: RUF001 - the en dash and full-width characters are what the tests are about
"""Weekly time windows: read in English or Chinese, shown in the reader's language, and a
bad window refused with one sentence saying what is wrong."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from redemption.models import BatchRedemptionRule
from redemption.rules import WindowSyntaxError, format_windows, parse_windows
from riskcontrol.models import AuditEvent
from tests.redemption.factories import claimed_code, make_staff, make_store, rule_for
from tests.redemption.test_admin import batch_form
from tests.vouchers.factories import make_batch

WEEKDAYS = [0, 1, 2, 3, 4]
WEEKEND = [5, 6]
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


def window(days, start, end):
    return {"days": days, "start": start, "end": end}


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # today's English form keeps working
        (
            "Mon-Fri 10:00-14:00; Sat,Sun 09:00-18:00",
            [window(WEEKDAYS, "10:00", "14:00"), window(WEEKEND, "09:00", "18:00")],
        ),
        ("mon,wed,fri 9:00-17:30", [window([0, 2, 4], "09:00", "17:30")]),
        ("Fri-Mon 10:00-12:00", [window([0, 4, 5, 6], "10:00", "12:00")]),
        ("Monday-Friday 10:00-14:00", [window(WEEKDAYS, "10:00", "14:00")]),
        # Chinese, with full-width separators
        (
            "周一至周五 10:00-22:00；周六,周日 09:00-18:00",
            [window(WEEKDAYS, "10:00", "22:00"), window(WEEKEND, "09:00", "18:00")],
        ),
        (
            "星期一～星期五 10:00～22:00，礼拜六、周天 09:00-18:00",
            [window(WEEKDAYS, "10:00", "22:00"), window(WEEKEND, "09:00", "18:00")],
        ),
        ("周一至五10:00-14:00", [window(WEEKDAYS, "10:00", "14:00")]),
        ("周六，星期日 10:00~18:00", [window(WEEKEND, "10:00", "18:00")]),
        ("周一、周三、周五 10:00至12:00", [window([0, 2, 4], "10:00", "12:00")]),
        ("周五至周一 10:00-12:00", [window([0, 4, 5, 6], "10:00", "12:00")]),
        ("１０：００－２２：００", [window(EVERY_DAY, "10:00", "22:00")]),
        # hours alone: every day
        ("10:00-22:00", [window(EVERY_DAY, "10:00", "22:00")]),
        ("每天 10:00-22:00", [window(EVERY_DAY, "10:00", "22:00")]),
        # 24:00 ends a day
        (
            "周五 22:00-24:00；周六 00:00-02:00",
            [window([4], "22:00", "24:00"), window([5], "00:00", "02:00")],
        ),
        # two hour ranges for the same days
        (
            "周一至周五 10:00-14:00，17:00-21:00",
            [window(WEEKDAYS, "10:00", "14:00"), window(WEEKDAYS, "17:00", "21:00")],
        ),
        # empty parts hold nothing; a day named twice is one day
        ("Mon-Fri 10:00-14:00;; ；\n", [window(WEEKDAYS, "10:00", "14:00")]),
        ("周一,,周三、 10:00-11:00", [window([0, 2], "10:00", "11:00")]),
        ("周一,周一,Mon 10:00-11:00", [window([0], "10:00", "11:00")]),
        ("", []),
        ("  ；  ", []),
        # windows that touch do not overlap
        (
            "周一 10:00-12:00；周一 12:00-14:00",
            [window([0], "10:00", "12:00"), window([0], "12:00", "14:00")],
        ),
    ],
)
def test_windows_are_read_in_english_and_chinese(text, windows):
    assert parse_windows(text) == windows


@pytest.mark.parametrize(
    ("windows", "english", "chinese"),
    [
        (
            [window(WEEKDAYS, "10:00", "22:00"), window(WEEKEND, "09:00", "18:00")],
            "Mon–Fri 10:00–22:00; Sat, Sun 09:00–18:00",
            "周一至周五 10:00–22:00；周六、周日 09:00–18:00",
        ),
        ([window(EVERY_DAY, "10:00", "22:00")], "Every day 10:00–22:00", "每天 10:00–22:00"),
        (
            [window([0, 2, 4], "10:00", "12:00")],
            "Mon, Wed, Fri 10:00–12:00",
            "周一、周三、周五 10:00–12:00",
        ),
        ([window([0, 4, 5, 6], "10:00", "12:00")], "Fri–Mon 10:00–12:00", "周五至周一 10:00–12:00"),
        (
            [window([0, 1, 3, 4, 5], "08:00", "24:00")],
            "Mon, Tue, Thu–Sat 08:00–24:00",
            "周一、周二、周四至周六 08:00–24:00",
        ),
        ([], "", ""),
    ],
)
def test_windows_are_shown_in_the_readers_language_and_read_back(windows, english, chinese):
    with translation.override("en"):
        assert format_windows(windows) == english
        assert parse_windows(english) == windows
    with translation.override("zh-hans"):
        assert format_windows(windows) == chinese
        assert parse_windows(chinese) == windows


@pytest.mark.parametrize(
    ("text", "english", "chinese"),
    [
        (
            "周八 10:00-12:00",
            "“周八” is not a day of the week",
            "“周八”不是星期几",
        ),
        ("Mon-Fry 10:00-12:00", "“Fry” is not a day of the week", "“Fry”不是星期几"),
        ("周一 25:00-26:00", "25:00 is not a valid time", "25:00 不是有效时间"),
        ("周一 10:60-11:00", "10:60 is not a valid time", "10:60 不是有效时间"),
        ("周一 10:00-24:30", "24:30 is not a valid time", "24:30 不是有效时间"),
        (
            "周一 10:00-09:00",
            "The end time 09:00 is earlier than the start time 10:00",
            "结束时间 09:00 早于开始时间 10:00",
        ),
        # overnight: refused, with how to write it instead
        (
            "周五 22:00-02:00",
            "a window cannot pass midnight, so split it in two, "
            "e.g. “Fri 22:00-24:00; Sat 00:00-02:00”",
            "时段不能跨过午夜，请拆成两段，例如“周五 22:00-24:00；周六 00:00-02:00”",
        ),
        ("周一 24:00-24:00", "The window 24:00-24:00 is empty", "时段 24:00-24:00 为空"),
        ("10:00-10:00", "The window 10:00-10:00 is empty", "时段 10:00-10:00 为空"),
        (
            "周一至周五 10:00-14:00；周一 12:00-13:00",
            "“Mon 12:00–13:00” overlaps “Mon–Fri 10:00–14:00” on Mon",
            "“周一 12:00–13:00”与“周一至周五 10:00–14:00”在周一重叠",
        ),
        (
            "周六 09:00-18:00；周六 09:00-18:00",
            "“Sat 09:00–18:00” overlaps “Sat 09:00–18:00” on Sat",
            "“周六 09:00–18:00”与“周六 09:00–18:00”在周六重叠",
        ),
        ("周一至周五", "“周一至周五” has no hours", "“周一至周五”缺少时间"),
        ("lunch time", "Cannot read “lunch time”", "无法识别“lunch time”"),
        ("周一 10:00-", "Cannot read “周一 10:00-”", "无法识别“周一 10:00-”"),
        ("周一 9-17", "Cannot read “周一 9-17”", "无法识别“周一 9-17”"),
        ("100:00-120:00", "Cannot read “100:00-120:00”", "无法识别“100:00-120:00”"),
    ],
)
def test_a_bad_window_is_refused_with_one_sentence_in_the_readers_language(text, english, chinese):
    for language, expected in (("en", english), ("zh-hans", chinese)):
        with translation.override(language), pytest.raises(WindowSyntaxError) as refused:
            parse_windows(text)
        message = str(refused.value)
        assert expected in message
        assert message.count("。") + message.count(". ") <= 1, message  # one sentence


# --- In the console (the rule inline on the batch page) and on the clerk page -------------

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def batch_page(batch):
    return f"/admin/vouchers/voucherbatch/{batch.pk}/change/"


@pytest.mark.django_db
def test_an_operator_writes_a_chinese_window_and_reads_it_in_either_language(operator):
    batch = make_batch(quantity=2, valid_days=30)

    saved = operator.post(
        batch_page(batch),
        batch_form(batch, windows_text="周一至周五 10:00-22:00；周六,周日 09:00-18:00"),
        **ZH,
    )

    assert saved.status_code == 302
    assert BatchRedemptionRule.objects.get(batch=batch).windows == [
        window(WEEKDAYS, "10:00", "22:00"),
        window(WEEKEND, "09:00", "18:00"),
    ]
    chinese = operator.get(batch_page(batch), **ZH).content.decode()
    english = operator.get(batch_page(batch), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="周一至周五 10:00–22:00；周六、周日 09:00–18:00"' in chinese
    assert 'value="Mon–Fri 10:00–22:00; Sat, Sun 09:00–18:00"' in english
    # the audit row reads the same whoever looks, whatever language the operator used
    event = AuditEvent.objects.filter(subject="redemption.batchredemptionrule").get()
    assert event.changes["windows"]["to"] == "Mon–Fri 10:00–22:00; Sat, Sun 09:00–18:00"


@pytest.mark.django_db
def test_saving_the_page_unchanged_keeps_the_windows(operator):
    batch = make_batch(quantity=2, valid_days=30)
    rule = rule_for(batch, windows=[window([0, 4, 5, 6], "10:00", "24:00")])
    shown = "周五至周一 10:00–24:00"
    assert f'value="{shown}"' in operator.get(batch_page(batch), **ZH).content.decode()

    operator.post(
        batch_page(batch),
        {
            **batch_form(batch, windows_text=shown),
            "redemption_rule-INITIAL_FORMS": "1",
            "redemption_rule-0-id": str(rule.pk),
            "redemption_rule-0-batch": str(batch.pk),
        },
        **ZH,
    )

    rule.refresh_from_db()
    assert rule.windows == [window([0, 4, 5, 6], "10:00", "24:00")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("周八 10:00-12:00", "“周八”不是星期几"),
        ("周一 10:00-09:00", "结束时间 09:00 早于开始时间 10:00"),
        ("周一 25:00-26:00", "25:00 不是有效时间"),
    ],
)
def test_a_bad_window_is_refused_next_to_the_field_in_one_sentence(operator, text, sentence):
    batch = make_batch(quantity=2, valid_days=30)

    response = operator.post(batch_page(batch), batch_form(batch, windows_text=text), **ZH)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    [message] = formset.forms[0].errors["windows_text"]
    assert message.startswith(sentence)
    assert not BatchRedemptionRule.objects.exists()


@pytest.mark.django_db
def test_the_clerk_sees_the_hours_and_an_outside_hours_refusal_in_chinese(time_machine):
    import datetime as dt

    store = make_store("S001")
    make_staff("clerk", store)
    claim = claimed_code()
    rule_for(claim.voucher.batch, windows=parse_windows("周一至周五 10:00-22:00"))
    time_machine.move_to(
        dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    )
    clerk = Client()
    clerk.force_login(User.objects.get(username="clerk"))

    page = clerk.post("/store/check/", {"code": claim.code}, **ZH).content.decode()

    assert "周一至周五 10:00–22:00" in page
    assert "仅可在以下时段核销：周一至周五 10:00–22:00。" in page


@pytest.mark.django_db
def test_a_rule_saved_before_the_overlap_check_does_not_block_the_batch_page(operator):
    # given: two overlapping windows, as the old reader accepted them
    batch = make_batch(quantity=2, valid_days=30)
    stored = [window(WEEKDAYS, "10:00", "14:00"), window([0], "12:00", "16:00")]
    rule = rule_for(batch, windows=stored)
    shown = "周一至周五 10:00–14:00；周一 12:00–16:00"
    existing = {
        "redemption_rule-INITIAL_FORMS": "1",
        "redemption_rule-0-id": str(rule.pk),
        "redemption_rule-0-batch": str(batch.pk),
    }

    # when: the operator renames the batch, the rule untouched
    renamed = operator.post(
        batch_page(batch),
        {**batch_form(batch, windows_text=shown), **existing, "name": "午市券"},
        **ZH,
    )
    # ...then edits the windows, still overlapping
    edited = operator.post(
        batch_page(batch),
        {**batch_form(batch, windows_text=shown + "；周日 10:00-12:00"), **existing},
        **ZH,
    )

    # then
    assert renamed.status_code == 302
    batch.refresh_from_db()
    rule.refresh_from_db()
    assert (batch.name, rule.windows) == ("午市券", stored)
    assert edited.status_code == 200
    [message] = edited.context["inline_admin_formsets"][0].formset.forms[0].errors["windows_text"]
    assert "重叠" in message
