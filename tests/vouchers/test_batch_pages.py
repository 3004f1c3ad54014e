"""The batch pages: live status and progress (at the top), the list's progress column,
save messages that name the batch, percent batches by their percentage, the import
buttons that say what they need, the export refused without a format, and one export
event per batch instead of one reveal per code."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from tests.vouchers.test_admin import add_form
from tests.vouchers.test_batch_edits import change_form
from vouchers.models import BatchEvent, VoucherBatch, VoucherEvent
from vouchers.services import voucher_batch_create, voucher_batch_generate

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
BATCHES = "/admin/vouchers/voucherbatch/"


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def pending_batch(quantity=50, **overrides) -> VoucherBatch:
    """A generated batch whose generation has not run yet (as the worker would find it)."""
    arguments = {
        "code": "LIVE",
        "name": "实时批次",
        "face_value": Decimal("20.00"),
        "quantity": quantity,
        "activate": True,
        "actor": Actor.system("test"),
        "generate": False,
    }
    return voucher_batch_create(**{**arguments, **overrides})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- status and generation: the service, the JSON the pages poll ---------------------------


def test_generation_sets_done_and_opens_the_batch_in_the_database():
    batch = pending_batch(quantity=45)

    voucher_batch_generate(batch_id=batch.pk, chunk_size=20)

    batch.refresh_from_db()
    assert (batch.generation, batch.generated_count, batch.status) == ("done", 45, "active")


def test_a_batch_created_without_opening_stays_a_draft_once_generated():
    batch = pending_batch(quantity=5, activate=False)

    voucher_batch_generate(batch_id=batch.pk)

    batch.refresh_from_db()
    assert (batch.generation, batch.status) == ("done", "draft")


def test_the_progress_view_says_status_and_generation_by_name_and_when_to_stop(operator):
    batch = pending_batch(quantity=45)

    before = operator.get(f"{BATCHES}{batch.pk}/progress/", **ZH).json()
    voucher_batch_generate(batch_id=batch.pk)
    after = operator.get(f"{BATCHES}{batch.pk}/progress/", **ZH)

    assert (before["busy"], before["status_label"], before["generation_label"]) == (
        True,
        "草稿",
        "等待后台任务",
    )
    data = after.json()
    assert (data["busy"], data["status"], data["status_label"]) == (False, "active", "启用")
    assert (data["generation_label"], data["generated_text"], data["quantity_text"]) == (
        "已完成",
        "45",
        "45",
    )
    assert "no-store" in after["Cache-Control"]


def test_progress_is_at_the_top_and_polls_only_while_generating(operator):
    batch = pending_batch(quantity=45)

    generating = operator.get(f"{BATCHES}{batch.pk}/change/", **ZH).content.decode()
    voucher_batch_generate(batch_id=batch.pk)
    done = operator.get(f"{BATCHES}{batch.pk}/change/", **ZH).content.decode()

    top = generating.index('id="batch-progress"')
    assert top < generating.index("field-code") < generating.index('id="batch-stock"')
    assert 'id="batch-status" data-status="draft">草稿' in generating
    assert "setTimeout(poll" in generating
    assert 'id="batch-status" data-status="active">启用' in done
    assert 'data-generation="done">已完成' in done
    assert "setTimeout(poll" not in done  # nothing left to watch
    assert "等待后台任务" not in done


def test_the_list_shows_generation_progress(operator):
    batch = pending_batch(quantity=100_000)
    VoucherBatch.objects.filter(pk=batch.pk).update(generation="running", generated_count=45_000)
    done = make_batch(quantity=3, code="DONE3")

    page = text_of(operator.get(BATCHES, **ZH).content.decode())

    assert "生成中 45,000 / 100,000" in page
    assert "已完成 3 / 3" in page
    assert done.pk


# --- save messages ------------------------------------------------------------------------


def test_the_save_message_names_the_batch(operator):
    batch = make_batch(quantity=2, code="GOLD20", name="金卡20元券")

    response = operator.post(
        f"{BATCHES}{batch.pk}/change/", change_form(batch, region="上海"), follow=True, **ZH
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["批次 “GOLD20 金卡20元券” 已保存。"]


def test_the_create_message_names_the_batch(operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(f"{BATCHES}add/", add_form(), follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Batch “XMAS Christmas ¥20” created; its codes are being generated."]


# --- what a batch is worth ----------------------------------------------------------------


def test_percent_batches_show_their_percentage_not_a_zero_face_value(operator):
    batch = make_batch(
        quantity=2,
        code="PCT20",
        value_type="percent",
        face_value=Decimal("0"),
        percent_off=Decimal("20"),
        max_discount=Decimal("50.00"),
    )

    listing = text_of(operator.get(BATCHES).content.decode())
    page = operator.get(f"{BATCHES}{batch.pk}/change/").content.decode()
    zh_page = text_of(operator.get(f"{BATCHES}{batch.pk}/change/", **ZH).content.decode())

    assert "20% off, at most 50.00 CNY" in listing
    row = listing.split("PCT20", 1)[1][:120]
    assert not re.search(r"(?<![\d.])0\.00", row)  # no face value of 0.00
    assert "20% off, at most 50.00 CNY" in text_of(page)
    assert "field-face_value" not in page
    assert "优惠 20%，最多优惠 50.00 CNY" in zh_page


def test_cash_and_threshold_batches_show_their_amount(operator):
    make_batch(quantity=1, code="CASH5", face_value=Decimal("5.00"))
    make_batch(
        quantity=1,
        code="SPEND",
        value_type="threshold",
        face_value=Decimal("20.00"),
        min_order_amount=Decimal("100.00"),
    )

    listing = text_of(operator.get(BATCHES, **ZH).content.decode())

    assert "5.00 CNY" in listing
    assert "满 100.00 减 20.00 CNY" in listing


# --- the import buttons say what they need -------------------------------------------------


def test_the_upload_button_says_it_needs_a_file(operator, settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path
    batch = make_batch(quantity=None, kind="card_secret", code="STOCK")

    page = operator.get(f"{BATCHES}{batch.pk}/import/", **ZH).content.decode()

    assert 'id="upload-submit"' in page
    assert "请先选择文件。" in page


def test_the_confirm_button_says_it_needs_the_tick_when_rows_were_rejected(
    operator, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CARD_STOCK_UPLOAD_DIR = tmp_path
    batch = make_batch(quantity=None, kind="card_secret", code="REJ")
    stock = SimpleUploadedFile("r.csv", b"code\nREJ-A-1\nREJ-A-1\n", content_type="text/csv")

    uploaded = operator.post(f"{BATCHES}{batch.pk}/import/", {"file": stock})
    page = operator.get(uploaded["Location"], **ZH).content.decode()

    assert 'id="confirm-needs"' in page
    assert "请先勾选“跳过被拒绝的行”，或修正文件后重新上传。" in page


# --- exports ------------------------------------------------------------------------------


def test_the_voucher_export_without_a_format_is_refused_with_a_sentence(operator):
    make_batch(quantity=1)

    response = operator.post("/admin/vouchers/voucher/export/", {"resource": "0"}, **ZH)

    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert "请先选择导出文件的格式（CSV 或 Excel），再重新导出。" in response.content.decode()


def test_exporting_codes_records_one_event_per_batch_with_the_count(console_client):
    custodian = console_client("Operator")
    User.objects.get(username="operator-user").groups.add(
        Group.objects.get(name="Secret custodian")
    )
    first, second = make_batch(quantity=30, code="EXPA"), make_batch(quantity=4, code="EXPB")

    response = custodian.post(
        BATCHES,
        {
            "action": "export_codes",
            "_selected_action": [first.pk, second.pk],
            "confirmed": "yes",
            "reason": "distributor order 7",
        },
    )
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()

    assert len(lines) == 1 + 34
    assert not VoucherEvent.objects.filter(action="reveal").exists()
    events = BatchEvent.objects.filter(action="export_codes").order_by("batch__code")
    assert [(e.batch.code, e.context["count"], e.context["format"]) for e in events] == [
        ("EXPA", 30, "csv"),
        ("EXPB", 4, "csv"),
    ]
    assert {e.context["reason"] for e in events} == {"distributor order 7"}
    assert {e.actor_label for e in events} == {"operator-user"}
    page = text_of(custodian.get(f"{BATCHES}{first.pk}/change/", **ZH).content.decode())
    assert "卡密已导出" in page
    assert "30 · csv · distributor order 7" in page
