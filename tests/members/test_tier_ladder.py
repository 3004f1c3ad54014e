"""The tier ladder rule holds in the services too, also when two edits race."""

from __future__ import annotations

import pytest

from members.ladder import Step, ladder_breaks
from members.models import Tier
from members.program import tier_create, tier_update
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed
from tests.utils import race, requires_postgresql

ACTOR = Actor.system("test")


def test_ladder_breaks_names_each_break():
    steps = [Step("a", 1, 5), Step("b", 2, 5), Step("c", 2, 9)]
    found = [(b.kind, b.code, b.other.code if b.other else None) for b in ladder_breaks(steps)]
    assert found == [
        ("rank_taken", "c", "b"),
        ("lowest_not_zero", "a", None),
        ("not_rising", "b", "a"),
    ]


@pytest.mark.django_db
def test_tier_create_refuses_a_threshold_that_does_not_rise():
    tier_create(code="normal", name="普通", rank=1, threshold=0, actor=ACTOR)
    tier_create(code="gold", name="金卡", rank=3, threshold=5000, actor=ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        tier_create(code="silver", name="银卡", rank=2, threshold=6000, actor=ACTOR)
    assert list(caught.value.errors) == ["threshold"]
    assert not Tier.objects.filter(code="silver").exists()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_edits_valid_alone_but_not_together_cannot_both_pass():
    normal = tier_create(code="normal", name="普通", rank=1, threshold=0, actor=ACTOR)
    silver = tier_create(code="silver", name="银卡", rank=2, threshold=1000, actor=ACTOR)
    gold = tier_create(code="gold", name="金卡", rank=3, threshold=5000, actor=ACTOR)
    edits = [
        lambda: tier_update(tier=silver, name="银卡", rank=2, threshold=4000, actor=ACTOR),
        lambda: tier_update(tier=gold, name="金卡", rank=3, threshold=3000, actor=ACTOR),
    ]

    results = race(2, lambda i: edits[i]())

    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(refused) == 1
    ladder = [Step(t.code, t.rank, t.threshold) for t in Tier.objects.all()]
    assert ladder_breaks(ladder) == []
    assert normal.pk
