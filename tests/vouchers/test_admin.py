import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.services import member_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import voucher_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def add_form(**overrides):
    data = {
        "code": "XMAS",
        "name": "Christmas ¥20",
        "kind": "coupon",
        "quantity": "150",
        "activate": "on",
        "value_type": "cash",
        "face_value": "20.00",
        "currency": "CNY",
        "code_format": "",
        "valid_days": "30",
        "per_member_limit": "1",
        "region": "",
        # the redemption rule inline on the batch page (owned by the redemption app)
        "redemption_rule-TOTAL_FORMS": "0",
        "redemption_rule-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_operator_creates_a_batch_and_it_is_generated_and_opened(
    operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post("/admin/vouchers/voucherbatch/add/", add_form())

    assert response.status_code == 302
    batch = VoucherBatch.objects.get(code="XMAS")
    assert (batch.generated_count, batch.generation, batch.status) == (150, "done", "active")
    assert Voucher.objects.filter(batch=batch).count() == 150
    progress = operator.get(f"/admin/vouchers/voucherbatch/{batch.pk}/progress/").json()
    assert progress["generated"] == progress["quantity"] == 150
    assert progress["stock"]["available"] == 150


def test_invalid_batch_shows_the_rule_next_to_the_field(operator):
    response = operator.post(
        "/admin/vouchers/voucherbatch/add/",
        add_form(value_type="threshold", face_value="20.00", min_order_amount="10.00"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["min_order_amount"] == [
        "A spend-X-save-Y voucher needs a minimum order of at least its face value."
    ]
    assert not VoucherBatch.objects.exists()


def test_batch_page_shows_stock_progress_and_events(operator):
    batch = make_batch(quantity=3, code="PAGE")
    member_upsert(external_id="M1")
    voucher_claim(batch_code="PAGE", member_external_id="M1", actor=Actor.system("test"))

    page = operator.get(f"/admin/vouchers/voucherbatch/{batch.pk}/change/").content.decode()

    assert 'id="generation-bar"' in page
    assert 'data-status="available">2<' in page
    assert 'data-status="claimed">1<' in page
    assert "PAGE-000001" in page  # the claim event in the timeline


def test_batch_list_counts_stock_for_the_page_in_one_query(operator):
    for _ in range(3):
        make_batch(quantity=2)
    operator.get("/admin/vouchers/voucherbatch/")  # warm caches (content types, session)

    with CaptureQueriesContext(connection) as few:
        operator.get("/admin/vouchers/voucherbatch/")
    for _ in range(5):
        make_batch(quantity=2)
    with CaptureQueriesContext(connection) as many:
        response = operator.get("/admin/vouchers/voucherbatch/")

    assert len(many) == len(few)
    rows = response.context["cl"].result_list
    assert {batch.stock["available"] for batch in rows} == {2}


def test_voucher_list_never_shows_codes(operator):
    batch = make_batch(quantity=2, code="HIDE")
    from vouchers.secrets import reveal_code

    codes = [reveal_code(v, batch) for v in Voucher.objects.filter(batch=batch)]

    page = operator.get("/admin/vouchers/voucher/").content.decode()
    detail = operator.get(
        f"/admin/vouchers/voucher/{Voucher.objects.filter(batch=batch).first().pk}/change/"
    ).content.decode()

    assert "HIDE-000001" in page
    assert not [code for code in codes if code in page or code.replace("-", "") in page]
    assert not [code for code in codes if code in detail or code.replace("-", "") in detail]


def test_activate_action_opens_a_generated_draft_batch(operator):
    batch = make_batch(quantity=2, activate=False)

    operator.post(
        "/admin/vouchers/voucherbatch/", {"action": "activate", "_selected_action": [batch.pk]}
    )

    batch.refresh_from_db()
    assert batch.status == "active"


def test_create_batch_command_generates_and_waits(capsys):
    call_command(
        "create_batch",
        "--code",
        "CLI",
        "--name",
        "From a script",
        "--kind",
        "coupon",
        "--quantity",
        "1200",
        "--face-value",
        "50.00",
        "--valid-days",
        "14",
        "--activate",
    )

    batch = VoucherBatch.objects.get(code="CLI")
    assert (batch.generated_count, batch.status) == (1200, "active")
    assert "Batch CLI created: 1,200 vouchers, status active" in capsys.readouterr().out


def test_create_batch_command_reports_rule_violations():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="percent_off: A percent voucher needs a percentage"):
        call_command(
            "create_batch",
            *("--code", "BAD", "--name", "x", "--kind", "coupon", "--face-value", "0"),
            *("--value-type", "percent"),
        )
