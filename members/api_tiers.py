"""Partner API: a member's tier standing (`GET /api/v1/members/{external_id}/tier`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import problem_responses

from . import selectors
from .models import TierChange


class TierNextOutput(serializers.Serializer):
    code = serializers.CharField(source="tier.code")
    growth_needed = serializers.IntegerField(
        help_text="Qualifying growth still needed to reach it."
    )


class TierChangeOutput(serializers.Serializer):
    def to_representation(self, change: TierChange) -> dict:
        return {
            "from": change.from_tier.code if change.from_tier_id else None,
            "to": change.to_tier.code if change.to_tier_id else None,
            "reason": change.reason,
            "at": serializers.DateTimeField().to_representation(change.created_at),
        }


class MemberTierOutput(serializers.Serializer):
    tier = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    growth_value = serializers.IntegerField(help_text="All growth value ever gained.")
    qualifying_growth = serializers.IntegerField(
        help_text="Growth value of the policy's qualifying months, which tiers follow."
    )
    held_until = serializers.DateTimeField(
        allow_null=True, help_text="The tier is not lowered before this time."
    )
    next_tier = TierNextOutput(allow_null=True)
    history = TierChangeOutput(
        many=True,
        help_text=(
            "Latest tier changes, newest first: {from, to, reason, at}; reason one of "
            "upgrade, review, manual, manual_ended, thresholds, partner."
        ),
    )


class MemberTierApi(PartnerApi):
    required_scope = "members:read"

    @extend_schema(
        operation_id="members_tier_retrieve",
        summary="Read a member's tier, growth value and tier history",
        tags=["members"],
        responses={200: MemberTierOutput, **problem_responses(404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(external_id=external_id)
        return Response(MemberTierOutput(selectors.member_tier_progress(member=member)).data)
