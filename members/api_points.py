"""Partner API of the member program: events and the points ledger (API.md, second
version). Views validate, call one service, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.text import json_text_problem, validate_identifier
from riskcontrol.http.pagination import PagePagination
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, ProblemCode, problem_responses

from . import selectors, selectors_points
from .api import EXTERNAL_ID
from .models import PointsEntry
from .services import InsufficientPoints, member_event_record, points_spend


def _clean_json(value: dict) -> dict:
    problem = json_text_problem(value)
    if problem:
        raise serializers.ValidationError(problem)
    return value


class ContextInput(serializers.Serializer):
    """The end user's own address and device, as the partner's back end saw them."""

    ip = serializers.IPAddressField(required=False)
    device_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    user_agent = serializers.CharField(max_length=512, required=False, allow_blank=True)
    challenge = serializers.DictField(required=False)


class EventInput(serializers.Serializer):
    event_id = serializers.CharField(max_length=64, validators=[validate_identifier])
    kind = serializers.CharField(max_length=64)
    occurred_at = serializers.DateTimeField(required=False)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    order_ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[validate_identifier]
    )
    payload = serializers.DictField(required=False)
    context = ContextInput(required=False)

    def validate_payload(self, value: dict) -> dict:
        return _clean_json(value)

    def validate_context(self, value: dict) -> dict:
        return _clean_json(dict(value))


class EffectsOutput(serializers.Serializer):
    points = serializers.IntegerField()
    growth = serializers.IntegerField()
    tier_before = serializers.CharField(allow_null=True)
    tier_after = serializers.CharField(allow_null=True)


class EventOutput(serializers.Serializer):
    event_id = serializers.CharField()
    kind = serializers.CharField()
    member = serializers.CharField(source="member.external_id")
    occurred_at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    order_ref = serializers.CharField()
    effects = serializers.JSONField(help_text="{points, growth, tier_before, tier_after}")


class PointsEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PointsEntry.Kind.choices)
    amount = serializers.IntegerField(help_text="Signed.")
    balance_after = serializers.IntegerField()
    reason = serializers.CharField()
    ref = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ExpiringOutput(serializers.Serializer):
    amount = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class PointsEntryPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PointsEntryOutput(many=True)


class PointsOutput(serializers.Serializer):
    balance = serializers.IntegerField()
    spendable = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Not spendable yet (refund window).")
    expiring = ExpiringOutput(many=True)
    entries = PointsEntryPageOutput()


class SpendInput(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=100_000_000)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[validate_identifier]
    )
    context = ContextInput(required=False)


class MemberEventCreateApi(PartnerApi):
    required_scope = "members:events"

    @extend_schema(
        operation_id="members_events_create",
        summary="Record a member event",
        description=(
            "Applies the earning rules in the same transaction; `effects` says what they "
            "gave. Idempotent by `event_id` per client even without `Idempotency-Key`: a "
            "repeat answers 200 with the first event. 404 for an unknown member; 400 "
            "`validation_error` for an unknown kind or a bad payload.\n\n"
            "Scope: `members:events`."
        ),
        tags=["members"],
        parameters=[EXTERNAL_ID, IDEMPOTENCY_PARAMETER],
        request=EventInput,
        responses={
            201: EventOutput,
            200: EventOutput,
            **problem_responses(NotFound, idempotent=True),
        },
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = self.validate(EventInput, request.data)
        event, created = member_event_record(
            member_external_id=external_id,
            event_id=data["event_id"],
            kind=data["kind"],
            occurred_at=data.get("occurred_at"),
            amount=data.get("amount"),
            order_ref=data.get("order_ref", ""),
            payload=data.get("payload") or {},
            context=data.get("context"),
            actor=self.actor,
        )
        return Response(EventOutput(event).data, status=201 if created else 200)


class MemberPointsApi(PartnerApi):
    required_scope = "points:read"

    @extend_schema(
        operation_id="members_points_retrieve",
        summary="A member's points: balance, expiring points and the ledger",
        description=(
            "The balance (pending points included), what can be spent now, what is still "
            "pending (the refund window of purchase points), the points expiring next by "
            "date, and one page of the ledger, newest first. 404 for an unknown member; 400 "
            "`validation_error` for a bad page number.\n\nScope: `points:read`."
        ),
        parameters=[
            EXTERNAL_ID,
            OpenApiParameter("page", int, required=False, description="The page, from 1."),
            OpenApiParameter(
                "page_size", int, required=False, description="Entries per page (up to 200)."
            ),
        ],
        tags=["members"],
        responses={
            200: PointsOutput,
            **problem_responses(NotFound, ProblemCode.of(ValidationFailed, "a bad page number")),
        },
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(external_id=external_id)
        summary = selectors_points.points_summary(member=member)
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            selectors_points.points_entries(member_id=member.pk), request, view=self
        )
        entries = paginator.get_paginated_response(PointsEntryOutput(page, many=True).data).data
        summary["expiring"] = ExpiringOutput(summary["expiring"], many=True).data
        return Response({**summary, "entries": entries})


class MemberPointsSpendApi(PartnerApi):
    required_scope = "points:write"

    @extend_schema(
        operation_id="members_points_spend",
        summary="Spend a member's points",
        description=(
            "Takes the oldest spendable points first. 409 `insufficient_points` when the "
            "member has fewer spendable points (pending ones do not count). A `ref` names "
            "one spend: the same `ref` again answers 200 with the first spend and spends "
            "nothing.\n\nScope: `points:write`."
        ),
        tags=["members"],
        parameters=[EXTERNAL_ID, IDEMPOTENCY_PARAMETER],
        request=SpendInput,
        responses={
            201: PointsEntryOutput,
            200: PointsEntryOutput,
            **problem_responses(NotFound, InsufficientPoints, idempotent=True),
        },
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = self.validate(SpendInput, request.data)
        entry, created = points_spend(
            member=external_id,
            amount=data["amount"],
            reason=data.get("reason", ""),
            ref=data.get("ref", ""),
            actor=self.actor,
        )
        return Response(PointsEntryOutput(entry).data, status=201 if created else 200)
