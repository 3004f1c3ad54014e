"""Input and output shapes of the benefits API (API.md, "Benefits and grants"). Codes
appear only in `GrantCreatedOutput` (the answer to the grant itself); a top-up account
is masked; a delivery address is never echoed."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from members.api_points import ContextInput
from riskcontrol.core.text import json_text_problem, validate_identifier
from vouchers.api import VoucherOutput
from vouchers.models import Voucher, VoucherBatch

from .models import Benefit, Grant
from .renderers import datetime_text, mask_account, usable_until
from .services.grants import MAX_ACCOUNT, MAX_ADDRESS, grant_account

# Routes a partner may ask for (operator and automation grants are made inside Quanyi).
PARTNER_ROUTES = [Grant.Via.TIER, Grant.Via.POINTS, Grant.Via.CAMPAIGN, Grant.Via.API]
# Routes a member's entitlements list (what they may claim themselves).
CLAIM_ROUTES = [Grant.Via.TIER, Grant.Via.POINTS]
FULFILMENT_STATUSES = [
    Grant.Fulfilment.WAITING,
    Grant.Fulfilment.SHIPPED,
    Grant.Fulfilment.DELIVERED,
]


# --- benefits --------------------------------------------------------------------------


class PackItemOutput(serializers.Serializer):
    benefit = serializers.CharField(source="item.code", help_text="Benefit code.")
    quantity = serializers.IntegerField()


class BenefitOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Benefit.Kind.choices)
    face_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    points_price = serializers.IntegerField(
        allow_null=True,
        help_text="Points a member pays to exchange for it; null: not exchangeable.",
    )
    exchange_limit = serializers.IntegerField(
        allow_null=True, help_text="Exchanges per member per `exchange_period`; null: no limit."
    )
    exchange_period = serializers.ChoiceField(choices=Benefit.Period.choices)
    region = serializers.CharField(help_text="Province code; empty: everywhere.")
    valid_days = serializers.IntegerField(
        allow_null=True, help_text="A privilege lasts this many days from its grant."
    )
    active = serializers.SerializerMethodField(help_text="Whether it can be granted right now.")
    active_from = serializers.DateTimeField(allow_null=True)
    active_until = serializers.DateTimeField(allow_null=True)
    description = serializers.CharField()
    image_url = serializers.CharField()
    items = PackItemOutput(many=True, help_text="A pack's contents; empty for other kinds.")
    fallbacks = serializers.SerializerMethodField(
        help_text="Equivalent benefits (codes), tried in this order when every source is empty."
    )

    @extend_schema_field(serializers.BooleanField())
    def get_active(self, benefit: Benefit) -> bool:
        return benefit.is_active_at(self.context["now"])

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_fallbacks(self, benefit: Benefit) -> list[str]:
        return [link.fallback.code for link in benefit.fallback_links.all()]


class BenefitDetailOutput(BenefitOutput):
    stock = serializers.IntegerField(
        allow_null=True,
        help_text="Units that can be granted now across its sources (a pack: whole packs); "
        "null: no limit. May lag by a few seconds.",
    )


class BenefitPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BenefitOutput(many=True)


class BenefitBriefOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Benefit.Kind.choices)
    face_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField()


# --- grants ----------------------------------------------------------------------------


class GrantCreateInput(serializers.Serializer):
    benefit = serializers.CharField(
        max_length=40, validators=[validate_identifier], help_text="Benefit code."
    )
    via = serializers.ChoiceField(
        choices=PARTNER_ROUTES,
        help_text="tier: a benefit of the member's tier (counts against its quota); points: "
        "an exchange for the benefit's points price; campaign or api: your own grant.",
    )
    account = serializers.CharField(
        max_length=MAX_ACCOUNT,
        required=False,
        allow_blank=True,
        help_text="The account to top up (direct top-ups). Answered masked.",
    )
    address = serializers.CharField(
        max_length=MAX_ADDRESS,
        required=False,
        allow_blank=True,
        help_text="The delivery address (physical gifts). Kept sealed; never answered.",
    )
    channel = serializers.CharField(
        max_length=32, required=False, allow_blank=True, validators=[validate_identifier]
    )
    context = ContextInput(required=False)

    def validate_context(self, value: dict) -> dict:
        # As the member events API does: bounded, printable JSON text.
        problem = json_text_problem(dict(value))
        if problem:
            raise serializers.ValidationError(problem)
        return dict(value)


class GrantVoucherOutput(serializers.Serializer):
    voucher = VoucherOutput()


class GrantVoucherCodeOutput(GrantVoucherOutput):
    code = serializers.CharField(help_text="The secret code: in this answer only.")


class TopupOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Grant.Status.choices)
    supplier = serializers.CharField(allow_null=True)
    account = serializers.CharField(help_text="Masked, e.g. 138****5678.")


class FulfilmentOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=FULFILMENT_STATUSES)
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


class GrantOutput(serializers.Serializer):
    """A grant. `vouchers` holds no codes here; the answer to the grant itself does."""

    id = serializers.UUIDField(source="uid")
    benefit = serializers.CharField(source="benefit.code", help_text="Benefit code.")
    member = serializers.CharField(source="member.external_id")
    via = serializers.ChoiceField(choices=Grant.Via.choices)
    status = serializers.ChoiceField(choices=Grant.Status.choices)
    channel = serializers.CharField()
    quantity = serializers.IntegerField()
    vouchers = serializers.SerializerMethodField()
    topup = serializers.SerializerMethodField()
    fulfilment = serializers.SerializerMethodField(
        help_text="A physical gift's shipping; null for other kinds."
    )
    substituted_from = serializers.CharField(
        source="substituted_from.code",
        allow_null=True,
        default=None,
        help_text="The benefit asked for, when an equivalent one (通兑) was granted instead.",
    )
    points_spent = serializers.IntegerField()
    valid_until = serializers.DateTimeField(
        allow_null=True, help_text="A privilege's end; null for other kinds."
    )
    children = serializers.SerializerMethodField(help_text="A pack's item grants.")
    created_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    failure = serializers.CharField(
        allow_null=True, help_text="The refusal code of a failed grant."
    )

    voucher_output = GrantVoucherOutput

    def _vouchers(self, grant: Grant) -> list[dict]:
        return [{"voucher": row.voucher} for row in grant.grant_vouchers.all()]

    def _children(self, grant: Grant) -> list[Grant]:
        return list(grant.children.all())

    @extend_schema_field(GrantVoucherOutput(many=True))
    def get_vouchers(self, grant: Grant) -> list[dict]:
        return self.voucher_output(self._vouchers(grant), many=True).data

    @extend_schema_field(TopupOutput(allow_null=True))
    def get_topup(self, grant: Grant) -> dict | None:
        if grant.benefit.kind != Benefit.Kind.DIRECT_TOPUP or grant.account_sealed is None:
            return None
        account = mask_account(grant_account(grant))
        return {"status": grant.status, "supplier": None, "account": account}

    @extend_schema_field(FulfilmentOutput(allow_null=True))
    def get_fulfilment(self, grant: Grant) -> dict | None:
        if not grant.fulfilment:
            return None
        return FulfilmentOutput(
            {
                "status": grant.fulfilment,
                "tracking_number": grant.tracking_number,
                "shipped_at": grant.shipped_at,
                "delivered_at": grant.delivered_at,
            }
        ).data

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_children(self, grant: Grant) -> list[dict]:
        return type(self)(self._children(grant), many=True, context=self.context).data

    def to_representation(self, grant: Grant) -> dict:
        data = super().to_representation(grant)
        data["failure"] = grant.failure or None
        return data


class GrantCreatedOutput(GrantOutput):
    """The answer to the grant itself: each voucher with its code. Built from what the
    grant service handed out (`context["codes"]`: voucher id -> code)."""

    voucher_output = GrantVoucherCodeOutput

    def _vouchers(self, grant: Grant) -> list[dict]:
        codes = self.context["codes"]
        return [
            {"voucher": voucher, "code": codes[voucher.pk]}
            for voucher in self.context["vouchers"].get(grant.pk, [])
        ]

    def _children(self, grant: Grant) -> list[Grant]:
        return self.context["children"].get(grant.pk, [])

    @extend_schema_field(GrantVoucherCodeOutput(many=True))
    def get_vouchers(self, grant: Grant) -> list[dict]:
        return super().get_vouchers(grant)


# --- entitlements ----------------------------------------------------------------------


class RulesOutput(serializers.Serializer):
    """What the voucher is worth and when it can be used (its batch's rules)."""

    value_type = serializers.ChoiceField(choices=VoucherBatch.ValueType.choices)
    face_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    percent_off = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    max_discount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    min_order_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.SerializerMethodField(
        help_text="The earlier of the voucher's expiry and its batch's end; null: no end."
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_valid_until(self, holding) -> str | None:
        return datetime_text(usable_until(holding))


class HoldingOutput(serializers.Serializer):
    """A voucher the member holds (the fields of Voucher, no code), with whether it can
    be used now and its rules."""

    serial = serializers.CharField()
    batch = serializers.CharField(help_text="Batch code.")
    kind = serializers.ChoiceField(choices=VoucherBatch.Kind.choices)
    status = serializers.ChoiceField(choices=Voucher.Status.choices)
    member = serializers.SerializerMethodField(help_text="The member's external_id.")
    value_type = serializers.ChoiceField(choices=VoucherBatch.ValueType.choices)
    face_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True, help_text="The batch's end.")
    expires_at = serializers.DateTimeField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)
    channel = serializers.CharField()
    benefit = serializers.CharField(allow_null=True, help_text="The benefit it was granted as.")
    usable_now = serializers.BooleanField()
    not_usable_because = serializers.CharField(
        allow_null=True,
        help_text="frozen, not_yet_valid or batch_ended when `usable_now` is false.",
    )
    rules = RulesOutput(source="*")

    def get_member(self, holding) -> str:
        return self.context["member"]


class QuotaOutput(serializers.Serializer):
    period = serializers.ChoiceField(choices=Benefit.Period.choices)
    limit = serializers.IntegerField()
    used = serializers.IntegerField(help_text="Used in the current period; none left at `limit`.")
    resets_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next period starts; null for a lifetime quota."
    )


class ClaimableOutput(serializers.Serializer):
    benefit = BenefitBriefOutput()
    via = serializers.ChoiceField(choices=CLAIM_ROUTES)
    quota = QuotaOutput(allow_null=True)
    points_price = serializers.IntegerField(allow_null=True)


class PrivilegeOutput(serializers.Serializer):
    benefit = BenefitBriefOutput()
    valid_until = serializers.DateTimeField(allow_null=True, help_text="null: no end.")


class EntitlementsOutput(serializers.Serializer):
    member = serializers.CharField(source="member.external_id")
    tier = serializers.CharField(source="member.tier.code", allow_null=True, default=None)
    points = serializers.IntegerField(source="member.points")
    holdings = serializers.SerializerMethodField()
    claimable = ClaimableOutput(many=True)
    privileges = PrivilegeOutput(many=True)

    @extend_schema_field(HoldingOutput(many=True))
    def get_holdings(self, entitlements) -> list[dict]:
        context = {"member": entitlements.member.external_id}
        return HoldingOutput(entitlements.holdings, many=True, context=context).data
