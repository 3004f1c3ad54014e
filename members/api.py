from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.core.errors import NotFound
from riskcontrol.core.text import validate_identifier
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, problem_responses

from . import selectors
from .models import Member
from .regions import validate_province_code
from .services import member_upsert

EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="Your own id for the member, as sent to *Create or update a member*.",
)


class MemberUpsertInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=64, validators=[validate_identifier])
    name = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_null=True, allow_blank=True)
    birthday = serializers.DateField(required=False, allow_null=True)
    tier = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[validate_identifier],
        help_text="Tier code.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64, validators=[validate_identifier]),
        required=False,
        allow_null=True,
        max_length=100,
        help_text="Tag codes; replaces the member's tags. Unknown codes are created.",
    )
    region = serializers.CharField(
        max_length=6,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[validate_province_code],
        help_text="Province code (GB/T 2260, 6 digits ending in 0000, e.g. 310000); "
        "null or empty clears it.",
    )


class MemberOutput(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.SerializerMethodField(help_text="Masked, e.g. 138****5678.")
    email = serializers.SerializerMethodField(help_text="Masked, e.g. z***@example.com.")
    birthday = serializers.DateField(allow_null=True)
    tier = serializers.SerializerMethodField(help_text="Tier code.")
    points = serializers.IntegerField()
    tags = serializers.SerializerMethodField()
    lifecycle_stage = serializers.ChoiceField(choices=Member.LifecycleStage.choices)
    region = serializers.CharField(help_text="Province code, or empty.")
    created_at = serializers.DateTimeField()

    def get_phone(self, member: Member) -> str | None:
        return selectors.member_phone_masked(member)

    def get_email(self, member: Member) -> str | None:
        return selectors.member_email_masked(member)

    def get_tier(self, member: Member) -> str | None:
        return member.tier.code if member.tier_id else None

    def get_tags(self, member: Member) -> list[str]:
        return sorted(tag.code for tag in member.tags.all())


class MemberUpsertApi(PartnerApi):
    required_scope = "members:write"

    @extend_schema(
        operation_id="members_upsert",
        summary="Create or update a member",
        description=(
            "Keeps your member in step with Quanyi; call it before claiming vouchers for a "
            "member Quanyi has not seen yet, and whenever the member's details change.\n\n"
            "The member is found by `external_id` (your own id for them). A new member "
            "answers 201, an existing one 200. Fields you send are set, fields you leave "
            "out are kept, and `null` clears a field. `tier` is a tier code; `tags` is the "
            "complete list of the member's tag codes (it replaces the current tags, and a "
            "code Quanyi does not know yet is created). Phone and e-mail come back masked."
            "\n\nScope: `members:write`."
        ),
        tags=["members"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=MemberUpsertInput,
        responses={
            201: MemberOutput,
            200: MemberOutput,
            **problem_responses(idempotent=True),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validate(MemberUpsertInput, request.data)
        member, created = member_upsert(**data, actor=self.actor)
        member = selectors.member_get(external_id=member.external_id)
        return Response(MemberOutput(member).data, status=201 if created else 200)


class MemberDetailApi(PartnerApi):
    required_scope = "members:read"

    @extend_schema(
        operation_id="members_retrieve",
        summary="Read a member",
        description=(
            "The member with this `external_id`: name, masked phone and e-mail, birthday, "
            "tier, points, tags and lifecycle stage. 404 `not_found` if Quanyi has no such "
            "member (create it with *Create or update a member*).\n\nScope: `members:read`."
        ),
        parameters=[EXTERNAL_ID],
        tags=["members"],
        responses={200: MemberOutput, **problem_responses(NotFound)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(external_id=external_id)
        return Response(MemberOutput(member).data)
