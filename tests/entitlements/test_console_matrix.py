"""The tier benefit matrix as one grid: an operator edits cells and saves once; the
changed cells are validated, saved in one transaction and audited."""

from __future__ import annotations

import pytest

from entitlements.models import TierBenefit
from entitlements.services import Cell, tier_matrix_save
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from riskcontrol.models import AuditEvent
from tests.entitlements.factories import make_benefit, make_tier, matrix
from tests.utils import race, requires_postgresql

pytestmark = pytest.mark.django_db

GRID = "/admin/entitlements/tierbenefit/"


def _grid_post(client, edits: dict[str, dict]) -> dict:
    """The grid's form as the page renders it, with `edits` ({cell: {q, p, m}}) applied."""
    page = client.get(GRID)
    assert page.status_code == 200
    data = {}
    for row in page.context["rows"]:
        for cell in row["cells"]:
            data[f"o-{cell.key}"] = cell.shown
            data[f"q-{cell.key}"] = cell.quota
            data[f"p-{cell.key}"] = cell.period
            data[f"m-{cell.key}"] = cell.mode
    for key, values in edits.items():
        for short, value in values.items():
            data[f"{short}-{key}"] = value
    return data


def test_an_operator_gives_gold_a_monthly_quota_of_two_and_it_is_audited(console_client):
    silver, gold = make_tier("silver", 2), make_tier("gold", 3)
    coffee = make_benefit(stock=5, code="COFFEE", name="咖啡券")
    matrix(silver, coffee, quota=1, period="month")
    client = console_client("Operator")
    key = f"{gold.pk}-{coffee.pk}"

    response = client.post(
        GRID, _grid_post(client, {key: {"q": "2", "p": "month", "m": "claimable"}}), follow=True
    )

    assert response.status_code == 200
    assert "The tier benefit matrix is saved: 1 cells changed." in response.content.decode()
    row = TierBenefit.objects.get(tier=gold, benefit=coffee)
    assert (row.quota, row.period, row.mode) == (2, "month", "claimable")
    assert TierBenefit.objects.get(tier=silver, benefit=coffee).quota == 1
    event = AuditEvent.objects.get(subject="entitlements.tierbenefit")
    assert (event.action, event.actor_label, event.subject_label) == (
        "create",
        "operator-user",
        "gold · COFFEE",
    )
    assert event.changes["quota"] == {"from": None, "to": 2}


def test_an_invalid_cell_saves_nothing_and_says_why_on_the_cell(console_client):
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE")
    tea = make_benefit(stock=None, code="MUG", kind="physical")
    client = console_client("Operator")
    edits = {
        f"{gold.pk}-{coffee.pk}": {"q": "3"},
        f"{gold.pk}-{tea.pk}": {"q": "1", "p": "month", "m": "each_period"},
    }

    response = client.post(GRID, _grid_post(client, edits))

    assert response.status_code == 200
    cells = {cell.key: cell for row in response.context["rows"] for cell in row["cells"]}
    assert cells[f"{gold.pk}-{tea.pk}"].errors == [
        "This benefit needs the member's address or account, so it can only be "
        "claimed by the member, not granted automatically."
    ]
    assert cells[f"{gold.pk}-{coffee.pk}"].quota == "3"  # kept as typed
    assert not TierBenefit.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_quota_that_is_not_a_whole_number_is_refused_on_the_cell(console_client):
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE")
    client = console_client("Operator")
    key = f"{gold.pk}-{coffee.pk}"

    response = client.post(GRID, _grid_post(client, {key: {"q": "两"}}))

    cells = {cell.key: cell for row in response.context["rows"] for cell in row["cells"]}
    assert cells[key].errors == ["Enter the quota as a whole number, e.g. 1."]
    assert not TierBenefit.objects.exists()


def test_clearing_a_cell_takes_the_benefit_out_of_the_tier(console_client):
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE")
    matrix(gold, coffee, quota=1)
    client = console_client("Operator")

    client.post(GRID, _grid_post(client, {f"{gold.pk}-{coffee.pk}": {"q": ""}}))

    assert not TierBenefit.objects.exists()
    assert AuditEvent.objects.get(subject="entitlements.tierbenefit").action == "delete"


def test_a_cell_changed_by_someone_else_meanwhile_is_not_overwritten():
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE")
    matrix(gold, coffee, quota=5)
    key = (gold.pk, coffee.pk)

    with pytest.raises(ValidationFailed) as refused:
        tier_matrix_save(
            cells={key: Cell(2, "month", "claimable")},
            shown={key: Cell(1, "month", "claimable")},
            actor=Actor.system("test"),
        )

    assert refused.value.errors == {
        f"{gold.pk}-{coffee.pk}": [
            "Someone else changed this cell since you opened the page; reload and retry."
        ]
    }
    assert TierBenefit.objects.get().quota == 5


def test_unchanged_cells_are_not_saved_or_audited(console_client):
    gold = make_tier("gold", 3)
    matrix(gold, make_benefit(stock=1), quota=1)
    client = console_client("Operator")

    response = client.post(GRID, _grid_post(client, {}), follow=True)

    assert "Nothing changed." in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_an_auditor_reads_the_grid_but_cannot_save_it(console_client):
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE", name="咖啡券")
    matrix(gold, coffee, quota=2)
    client = console_client("Auditor")

    page = client.get(GRID).content.decode()
    refused = client.post(GRID, {f"o-{gold.pk}-{coffee.pk}": "", f"q-{gold.pk}-{coffee.pk}": "9"})

    assert 'name="q-' not in page and "咖啡券" in page
    assert refused.status_code == 403
    assert TierBenefit.objects.get().quota == 2


def test_the_console_home_links_the_grid(console_client):
    page = console_client("Operator").get("/admin/").content.decode()

    assert f'href="{GRID}"' in page


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_operators_saving_the_same_new_cell_at_once_make_one_row_and_one_refusal():
    gold = make_tier("gold", 3)
    coffee = make_benefit(stock=1, code="COFFEE")
    key = (gold.pk, coffee.pk)

    results = race(
        2,
        lambda i: tier_matrix_save(
            cells={key: Cell(i + 1, "month", "claimable")},
            shown={key: None},
            actor=Actor.system(f"op{i}"),
        ),
    )

    assert sorted(type(r).__name__ for r in results) == ["ValidationFailed", "int"]
    assert TierBenefit.objects.count() == 1
    assert AuditEvent.objects.filter(subject="entitlements.tierbenefit").count() == 1
