"""The points ledger in the console: read-only list, operator adjustments with a reason."""

import pytest

from members.models import Member, PointsEntry
from members.services import points_adjust
from riskcontrol.core.actors import Actor
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/members/pointsentry/add/"
LIST = "/admin/members/pointsentry/"


@pytest.fixture
def operator(console_client):
    return console_client("Operator")


def test_operator_adds_points_with_a_reason(operator):
    member = MemberFactory(external_id="M1")

    response = operator.post(ADD, {"member": "M1", "amount": "50", "reason": "客诉补偿"})

    assert response.status_code == 302
    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.amount, entry.remaining, entry.reason) == (
        "adjust",
        50,
        50,
        "客诉补偿",
    )
    assert entry.actor_kind == "user"
    assert Member.objects.get(pk=member.pk).points == 50
    page = operator.get(response["Location"]).content.decode()
    assert "Points adjusted by +50; the balance is now 50." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"member": "M1", "amount": "-5", "reason": "oops"},
            "The member has 0 points; 5 cannot be taken away.",
        ),
        ({"member": "M1", "amount": "5", "reason": ""}, "This field is required."),
        (
            {"member": "M1", "amount": "0", "reason": "x"},
            "Must be a whole number of points, not zero.",
        ),
        ({"member": "NOBODY", "amount": "5", "reason": "x"}, "No member with this external id."),
    ],
)
def test_refused_adjustments_say_why_and_change_nothing(operator, data, message):
    MemberFactory(external_id="M1")

    response = operator.post(ADD, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PointsEntry.objects.exists()


def test_adjustment_form_in_chinese(operator):
    response = operator.get(ADD, headers={"accept-language": "zh-hans"})

    page = response.content.decode()
    assert "调整积分" in page
    assert "原因" in page


def test_ledger_list_is_read_only_and_filters_by_kind(operator):
    member = MemberFactory(external_id="M1")
    entry = points_adjust(member=member, amount=7, reason="gift", actor=Actor.system("t"))

    listing = operator.get(LIST, {"kind__exact": "adjust"})
    change = operator.post(f"{LIST}{entry.pk}/change/", {"amount": "700"})
    delete = operator.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"})

    assert [e.pk for e in listing.context["cl"].result_list] == [entry.pk]
    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 7


def test_auditor_cannot_adjust(console_client):
    auditor = console_client("Auditor")
    MemberFactory(external_id="M1")

    response = auditor.post(ADD, {"member": "M1", "amount": "5", "reason": "x"})

    assert response.status_code == 403
    assert not PointsEntry.objects.exists()
