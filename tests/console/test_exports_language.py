"""Exports follow the operator's language: a zh-hans operator gets Chinese headers and
state names, an English one the English (machine) column names and state codes it always
got; the data (serials, codes, dates, amounts) is the same in both."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from tablib import Dataset

from members.resources import MemberResource
from members.services import member_upsert
from redemption.resources import StoreResource
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher
from vouchers.resources import VoucherExportResource
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.fixture
def claimed_batch():
    member_upsert(external_id="M1")
    batch = make_batch(quantity=2, code="LANG", per_member_limit=None)
    voucher_claim(batch_code="LANG", member_external_id="M1", actor=Actor.system())
    return batch


def export_vouchers(language: str) -> list[list[str]]:
    with translation.override(language):
        return rows(VoucherExportResource().export(Voucher.objects.order_by("serial")).csv)


def test_voucher_list_export_in_chinese_and_in_english(claimed_batch):
    chinese, english = export_vouchers("zh-hans"), export_vouchers("en")

    assert chinese[0] == [
        "序列号",
        "批次",
        "供应商卡号",
        "状态",
        "会员",
        "领取时间",
        "核销时间",
        "过期时间",
    ]
    assert english[0] == [
        "serial",
        "batch",
        "supplier_serial",
        "status",
        "member",
        "claimed_at",
        "redeemed_at",
        "expires_at",
    ]
    assert [row[3] for row in chinese[1:]] == ["已领取", "可领取"]
    assert [row[3] for row in english[1:]] == ["claimed", "available"]
    # Everything but the state is the same data.
    assert [row[:3] + row[4:] for row in chinese[1:]] == [row[:3] + row[4:] for row in english[1:]]
    assert chinese[1][0] == "LANG-000001"


def test_export_page_names_the_columns_in_the_operators_language(console_client):
    operator = console_client("Operator")

    chinese = operator.get("/admin/vouchers/voucher/export/", **ZH).content.decode()
    english = operator.get("/admin/vouchers/voucher/export/", **EN).content.decode()

    assert "供应商卡号" in chinese and "Supplier Serial" not in chinese
    assert "Supplier Serial" in english


def test_member_and_store_exports_in_chinese_import_again():
    member_upsert(external_id="M7", name="王五")
    with translation.override("zh-hans"):
        exported = MemberResource().export()
    assert exported.headers[:2] == ["外部编号", "名称"]

    # The Chinese file imports again, in any language (headers by name or by code).
    changed = Dataset(headers=exported.headers)
    changed.append(["M7", "王五五", "", "", "", "", "", "", 0])
    with translation.override("en"):
        result = MemberResource().import_data(changed, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    assert member_upsert(external_id="M7")[0].name == "王五五"

    with translation.override("zh-hans"):
        stores = StoreResource().export()
    assert stores.headers == ["编码", "名称", "地址", "分组", "启用"]


def test_code_export_headers_and_states_in_chinese(console_client):
    make_batch(quantity=2, code="CODES")
    custodian = console_client("Operator")
    User.objects.get(username="operator-user").groups.add(
        Group.objects.get(name="Secret custodian")
    )
    batch_id = Voucher.objects.first().batch_id

    response = custodian.post(
        "/admin/vouchers/voucherbatch/",
        {
            "action": "export_codes",
            "_selected_action": [batch_id],
            "confirmed": "yes",
            "reason": "经销商订单 42",
        },
        **ZH,
    )

    lines = rows(b"".join(response.streaming_content).decode("utf-8-sig"))
    assert lines[0] == ["序列号", "供应商卡号", "卡密", "状态", "过期时间"]
    assert {line[3] for line in lines[1:]} == {"可领取"}
    assert [line[0] for line in lines[1:]] == ["CODES-000001", "CODES-000002"]


def test_rejected_rows_csv_and_report_name_the_problems_in_chinese(
    console_client, settings, tmp_path
):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"
    batch = make_batch(quantity=None, kind="card_secret", code="KAMI2")
    operator = console_client("Operator")
    content = "code,expires_at\nKM-0001,2030-01-01\nKM-0001,2030-01-01\n,2030-01-01\nKM-3,明天\n"
    operator.post(
        f"/admin/vouchers/voucherbatch/{batch.pk}/import/",
        {"file": SimpleUploadedFile("k.csv", content.encode(), content_type="text/csv")},
        **ZH,
    )
    job = CardStockImport.objects.get()

    report = operator.get(f"/admin/vouchers/cardstockimport/{job.pk}/report/", **ZH)
    chinese = rows(
        operator.get(f"/admin/vouchers/cardstockimport/{job.pk}/report.csv/", **ZH).content.decode(
            "utf-8-sig"
        )
    )
    english = rows(
        operator.get(f"/admin/vouchers/cardstockimport/{job.pk}/report.csv/", **EN).content.decode(
            "utf-8-sig"
        )
    )

    page = report.content.decode()
    for label in ("文件内重复", "卡密为空", "日期无法识别"):
        assert label in page
    assert ">duplicate_in_file<" not in page and ">bad_date<" not in page
    assert chinese[0] == ["行号", "问题类型", "说明", "卡密（已脱敏）"]
    assert {row[1] for row in chinese[1:]} == {"文件内重复", "卡密为空", "日期无法识别"}
    assert english[0] == ["row", "kind", "message", "code (masked)"]
    assert {row[1] for row in english[1:]} == {"duplicate_in_file", "empty", "bad_date"}
