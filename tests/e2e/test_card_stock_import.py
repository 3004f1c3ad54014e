"""An operator imports card stock in a real browser: upload -> report -> confirm."""

import pytest
from playwright.sync_api import expect

from tests.vouchers.factories import make_batch
from vouchers.models import CardStockImport, Voucher

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password-123")
    page.click("input[type=submit]")


def write_csv(path, count, prefix):
    lines = ["卡密,卡号"] + [f"{prefix}-{i:06d}-Q,SN{i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sealed_dir(settings, tmp_path):
    settings.CARD_STOCK_UPLOAD_DIR = tmp_path / "sealed"


def test_operator_uploads_checks_and_confirms_a_small_file(
    page, live_server, operator_user, offline, tmp_path, sealed_dir
):
    batch = make_batch(quantity=None, kind="card_secret", code="VIP-MONTH")
    file = tmp_path / "vip.csv"
    file.write_text(
        "卡密,卡号\nVIP-AAAA-0001,N1\nVIP-AAAA-0002,N2\nVIP-AAAA-0001,N3\n", encoding="utf-8"
    )

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/{batch.pk}/change/")
    page.click("#import-link")
    # the button says what it needs until a file is chosen
    expect(page.locator("#upload-form input[type=submit]")).to_be_disabled()
    expect(page.locator("#upload-needs")).to_be_visible()
    page.set_input_files("input[type=file]", str(file))
    expect(page.locator("#upload-needs")).to_be_hidden()
    page.click("#upload-form input[type=submit]")

    expect(page.locator("#report-summary td[data-kind=accepted]")).to_have_text("2")
    expect(page.locator("#report-issues")).to_contain_text("appears earlier in the file")
    expect(page.locator("#report-issues")).not_to_contain_text("VIP-AAAA-0001")
    assert not Voucher.objects.filter(batch=batch).exists()
    # with a rejected row, confirming needs the tick first, and the page says so
    expect(page.locator("#confirm-import")).to_be_disabled()
    expect(page.locator("#confirm-needs")).to_be_visible()
    page.check("#id_skip_rejected")
    page.click("#confirm-import")

    expect(page.locator(".messagelist")).to_contain_text("2 vouchers imported into VIP-MONTH.")
    assert Voucher.objects.filter(batch=batch).count() == 2
    assert offline == []


def test_operator_watches_a_large_import_complete(
    page, live_server, operator_user, tmp_path, sealed_dir, settings
):
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    settings.CARD_STOCK_SYNC_ROWS = 100
    batch = make_batch(quantity=None, kind="card_secret", code="BULK")
    file = write_csv(tmp_path / "bulk.csv", 3_000, "BULK")
    sign_in(page, live_server)

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            page.goto(f"{live_server.url}/admin/vouchers/voucherbatch/{batch.pk}/import/")
            page.set_input_files("input[type=file]", str(file))
            page.click("#upload-form input[type=submit]")
            expect(page.locator("#job-status")).to_have_attribute(
                "data-status", "validated", timeout=60_000
            )
            expect(page.locator("#report-summary td[data-kind=accepted]")).to_have_text("3000")
            page.click("#confirm-import")
            expect(page.locator("#job-status")).to_have_attribute(
                "data-status", "imported", timeout=60_000
            )
    finally:
        app.conf.task_always_eager = True

    expect(page.locator("#report-summary td[data-kind=imported]")).to_have_text("3000")
    assert CardStockImport.objects.get().rows_imported == 3_000
    assert Voucher.objects.filter(batch=batch).count() == 3_000
