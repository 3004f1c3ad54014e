"""One confirmed-action pattern (issue 10): every console action of every app is built
with `confirmed_action`, and the confirmation page behaves the same in each of them."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User

from redemption.models import Redemption
from redemption.services import redemption_create
from riskcontrol.console.confirm import ConfirmedAction
from riskcontrol.core.actors import Actor
from riskcontrol.models import AuditEvent, PartnerClientKey
from riskcontrol.services import partner_client_create, partner_key_issue
from tests.redemption.factories import claimed_code, make_store
from tests.vouchers.factories import make_batch
from vouchers.models import BatchEvent, CardStockImport, Voucher, VoucherEvent

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
OUR_APPS = {
    "riskcontrol",
    "members",
    "vouchers",
    "redemption",
    "suppliers",
    "entitlements",
    "analytics",
}


def test_every_console_action_is_a_confirmed_action():
    actions = [
        (type(model_admin).__name__, name, func)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OUR_APPS
        for func, name, _description in model_admin._get_base_actions()
        if name != "delete_selected"  # Django's own, with its own confirmation page
    ]

    assert len(actions) >= 14
    assert [
        (owner, name) for owner, name, func in actions if not isinstance(func, ConfirmedAction)
    ] == []


@pytest.fixture
def operator(console_client):
    client = console_client("Operator")
    User.objects.get(username="operator-user").groups.add(
        Group.objects.get(name="Secret custodian")
    )
    return client


def _batch():
    return make_batch(quantity=2, code="CONFIRM").pk


def _voucher():
    return make_batch(quantity=2, code="CONFIRM").vouchers.first().pk


def _import():
    batch = make_batch(quantity=2, kind="card_secret", code="CONFIRM")
    job = CardStockImport.objects.create(batch=batch, file_name="leak.csv")
    batch.vouchers.update(import_job=job)
    return job.pk


def _redemption():
    make_store(code="S001")
    claim = claimed_code()
    return redemption_create(store_code="S001", code=claim.code, actor=SYSTEM).pk


ASKING_FOR_A_REASON = [
    ("vouchers/voucherbatch", "freeze", _batch),
    ("vouchers/voucherbatch", "unfreeze", _batch),
    ("vouchers/voucherbatch", "close", _batch),
    ("vouchers/voucherbatch", "void", _batch),
    ("vouchers/voucherbatch", "export_codes", _batch),
    ("vouchers/voucher", "freeze_selected", _voucher),
    ("vouchers/voucher", "unfreeze_selected", _voucher),
    ("vouchers/voucher", "void_selected", _voucher),
    ("vouchers/cardstockimport", "void_vouchers", _import),
    ("redemption/redemption", "reverse_selected", _redemption),
]


def _written():
    return (
        VoucherEvent.objects.count(),
        BatchEvent.objects.count(),
        AuditEvent.objects.count(),
        list(Voucher.objects.order_by("pk").values_list("status", flat=True)),
        list(Redemption.objects.values_list("status", flat=True)),
    )


@pytest.mark.parametrize(
    ("reason", "sentence"), [("", "Please say why."), ("leak\x1b", "control characters")]
)
@pytest.mark.parametrize(("changelist", "action", "selected"), ASKING_FOR_A_REASON)
def test_a_confirmed_action_without_a_usable_reason_shows_the_page_again_and_writes_nothing(
    operator, changelist, action, selected, reason, sentence
):
    pk = selected()
    before = _written()

    response = operator.post(
        f"/admin/{changelist}/",
        {"action": action, "_selected_action": [pk], "confirmed": "yes", "reason": reason},
    )

    assert response.status_code == 200
    assert response.templates[0].name == "admin/quanyi_confirm_action.html"
    page = response.content.decode()
    assert sentence in page
    assert f'name="action" value="{action}"' in page
    assert _written() == before


@pytest.mark.parametrize(("changelist", "action", "selected"), ASKING_FOR_A_REASON)
def test_the_first_post_of_a_confirmed_action_only_asks(operator, changelist, action, selected):
    pk = selected()
    before = _written()

    response = operator.post(f"/admin/{changelist}/", {"action": action, "_selected_action": [pk]})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_reason"' in page
    assert "Please say why." not in page
    assert _written() == before


def test_each_row_is_reported_and_a_refused_row_does_not_stop_the_others(operator):
    draft = make_batch(quantity=1, code="DRAFT", activate=False)
    active = make_batch(quantity=1, code="LIVE")

    done = operator.post(
        "/admin/vouchers/voucherbatch/",
        {"action": "activate", "_selected_action": [active.pk, draft.pk]},
        follow=True,
    )

    said = sorted((m.level_tag, str(m)) for m in done.context["messages"])
    assert said == [
        ("success", "DRAFT is open for claims."),
        ("warning", "LIVE: Only a draft batch can be activated; this one is active."),
    ]
    draft.refresh_from_db()
    assert draft.status == "active"


def test_an_action_without_a_reason_confirms_first_then_acts(operator):
    client = partner_client_create(name="CRM", scopes=[])
    partner_key_issue(client=client, name="k", expiry_date=None, actor=SYSTEM)
    form = {"action": "revoke_keys", "_selected_action": [client.pk]}

    asked = operator.post("/admin/riskcontrol/partnerclient/", form)
    assert 'id="id_reason"' not in asked.content.decode()
    assert PartnerClientKey.objects.filter(revoked=False).count() == 1

    done = operator.post(
        "/admin/riskcontrol/partnerclient/", {**form, "confirmed": "yes"}, follow=True
    )

    assert [str(m) for m in done.context["messages"]] == ["CRM: 1 key revoked."]
    assert PartnerClientKey.objects.filter(revoked=False).count() == 0
    assert AuditEvent.objects.filter(action="revoke_keys", actor_label="operator-user").count() == 1
