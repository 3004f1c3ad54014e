"""Two applies of the same program file at the same moment: one writes, the other then
finds nothing to change; nothing is created twice and neither fails (PostgreSQL)."""

import pytest

from members.models import EarningRule, Tier
from riskcontrol.core.actors import Actor
from riskcontrol.programfile import program_apply
from tests.members.test_program_file import PROGRAM
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def test_racing_applies_write_once():
    outcomes = race(3, lambda _i: program_apply(PROGRAM, actor=Actor.system("race")))

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(len(report.changes) for report in outcomes) == [0, 0, 5]
    assert Tier.objects.count() == 3
    assert EarningRule.objects.count() == 2
