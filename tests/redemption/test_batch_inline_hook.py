"""Apps register, they do not patch (issue 10): the redemption rule inline reaches the
batch page through the hook the vouchers admin offers, called from RedemptionConfig.ready()."""

import pytest
from django.contrib import admin

from redemption.admin import BatchRedemptionRuleInline
from tests.vouchers.factories import make_batch
from vouchers.admin import InlineRegistry, VoucherBatchAdmin, batch_inlines
from vouchers.models import VoucherBatch


def test_the_rule_inline_is_registered_and_the_batch_admin_class_is_untouched():
    assert BatchRedemptionRuleInline in list(batch_inlines)
    assert BatchRedemptionRuleInline not in VoucherBatchAdmin.inlines


def test_registering_an_inline_twice_adds_it_once():
    registry = InlineRegistry()

    registry.register(BatchRedemptionRuleInline)
    registry.register(BatchRedemptionRuleInline)

    assert list(registry) == [BatchRedemptionRuleInline]


@pytest.mark.django_db
def test_the_batch_page_carries_the_registered_inline(console_client, rf):
    batch = make_batch(quantity=1)
    model_admin = admin.site._registry[VoucherBatch]

    page = console_client("Operator").get(f"/admin/vouchers/voucherbatch/{batch.pk}/change/")

    assert page.status_code == 200
    assert 'name="redemption_rule-TOTAL_FORMS"' in page.content.decode()
    assert BatchRedemptionRuleInline in model_admin.get_inlines(rf.get("/"), batch)
