"""Partner API: a member's tier standing (`GET /api/v1/members/{external_id}/tier`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.core.errors import NotFound
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import problem_responses

from . import selectors
from .api import EXTERNAL_ID


class TierNextOutput(serializers.Serializer):
    code = serializers.CharField(source="tier.code")
    growth_needed = serializers.IntegerField(
        help_text="Qualifying growth still needed to reach it."
    )


class TierChangeOutput(serializers.Serializer):
    """One tier change: from and to (tier codes), reason, at."""

    # `from` is a Python keyword, so the fields are declared here.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.CharField(source="from_tier.code", allow_null=True),
            "to": serializers.CharField(source="to_tier.code", allow_null=True),
            "reason": serializers.CharField(
                help_text="upgrade, review, manual, manual_ended, thresholds or partner."
            ),
            "at": serializers.DateTimeField(source="created_at"),
        }


class MemberTierOutput(serializers.Serializer):
    tier = serializers.CharField(source="tier.code", allow_null=True, help_text="Tier code.")
    growth_value = serializers.IntegerField(help_text="All growth value ever gained.")
    qualifying_growth = serializers.IntegerField(
        help_text="Growth value of the policy's qualifying months, which tiers follow."
    )
    held_until = serializers.DateTimeField(
        allow_null=True, help_text="The tier is not lowered before this time."
    )
    next_tier = TierNextOutput(allow_null=True)
    history = TierChangeOutput(many=True, help_text="The latest 50 tier changes, newest first.")


class MemberTierApi(PartnerApi):
    required_scope = "members:read"

    @extend_schema(
        operation_id="members_tier_retrieve",
        summary="Read a member's tier, growth value and tier history",
        description=(
            "The member's tier and where it stands: all-time and qualifying growth value "
            "(tiers follow the growth of the program's qualifying months, never the points "
            "balance), the end of the hold (the tier is not lowered before it), the next "
            "tier with the growth still needed, and the latest tier changes with their "
            "reasons. 404 `not_found` if Quanyi has no such member.\n\nScope: `members:read`."
        ),
        parameters=[EXTERNAL_ID],
        tags=["members"],
        responses={200: MemberTierOutput, **problem_responses(NotFound)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(external_id=external_id)
        return Response(MemberTierOutput(selectors.member_tier_progress(member=member)).data)
