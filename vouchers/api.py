from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from members.selectors import member_get
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.core.text import json_text_problem, validate_identifier
from riskcontrol.http.pagination import PagePagination
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, ProblemCode, problem_responses

from . import selectors
from .errors import (
    BatchNotActive,
    InvalidTransition,
    LimitReached,
    SoldOut,
    VoucherFrozen,
    VoucherVoid,
)
from .models import Voucher, VoucherBatch
from .rules import voucher_face_value
from .services import REVEAL_ANY_SCOPE, voucher_claim, voucher_reveal_for_partner

EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="Your own id for the member, as sent to *Create or update a member*.",
)
BATCH_CODE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, description="The batch's code, e.g. `WELCOME10`."
)
SERIAL = OpenApiParameter(
    "serial",
    str,
    OpenApiParameter.PATH,
    description="The voucher's serial: its public number, as answered by the claim.",
)


class VoucherOutput(serializers.Serializer):
    serial = serializers.CharField()
    batch = serializers.CharField(source="batch.code")
    kind = serializers.ChoiceField(source="batch.kind", choices=VoucherBatch.Kind.choices)
    status = serializers.ChoiceField(choices=Voucher.Status.choices)
    member = serializers.CharField(source="member.external_id", allow_null=True, default=None)
    value_type = serializers.ChoiceField(
        source="batch.value_type", choices=VoucherBatch.ValueType.choices
    )
    face_value = serializers.SerializerMethodField()
    currency = serializers.CharField(source="batch.currency")
    valid_from = serializers.DateTimeField(source="batch.valid_from", allow_null=True)
    valid_until = serializers.DateTimeField(source="batch.valid_until", allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)
    channel = serializers.CharField()

    @extend_schema_field(serializers.DecimalField(max_digits=12, decimal_places=2))
    def get_face_value(self, voucher: Voucher) -> str:
        return f"{voucher_face_value(voucher):.2f}"


class ClaimCreateInput(serializers.Serializer):
    member = serializers.CharField(
        max_length=64, validators=[validate_identifier], help_text="The member's external_id."
    )
    channel = serializers.CharField(
        max_length=32, required=False, allow_blank=True, validators=[validate_identifier]
    )
    trace = serializers.DictField(required=False, help_text="Free-form attribution, < 2 KB.")

    def validate_trace(self, value: dict) -> dict:
        problem = json_text_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class ClaimOutput(serializers.Serializer):
    voucher = VoucherOutput()
    code = serializers.CharField(
        help_text="The secret code. Shown here and by the reveal call only."
    )


class BatchOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=VoucherBatch.Kind.choices)
    status = serializers.ChoiceField(choices=VoucherBatch.Status.choices)
    value_type = serializers.ChoiceField(choices=VoucherBatch.ValueType.choices)
    face_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    percent_off = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    max_discount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    min_order_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    total = serializers.IntegerField()
    available = serializers.IntegerField()
    claimed = serializers.IntegerField()
    redeemed = serializers.IntegerField()
    expired = serializers.IntegerField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    valid_days = serializers.IntegerField(allow_null=True)
    per_member_limit = serializers.IntegerField(allow_null=True)


class VoucherPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = VoucherOutput(many=True)


class BatchDetailApi(PartnerApi):
    required_scope = "batches:read"

    @extend_schema(
        operation_id="batches_retrieve",
        summary="Read a batch and its stock",
        description=(
            "A voucher batch by its code: what its vouchers are worth (`value_type`, "
            "`face_value` or `percent_off` with `max_discount`, `min_order_amount`), when "
            "they are valid, the per-member limit, whether it is open (`status`) and how "
            "many vouchers are available, claimed, redeemed and expired. Check it before "
            "offering the batch to members. Stock figures may lag by a few seconds.\n\n"
            "Scope: `batches:read`."
        ),
        parameters=[BATCH_CODE],
        tags=["batches"],
        responses={200: BatchOutput, **problem_responses(NotFound)},
    )
    def get(self, request: Request, code: str) -> Response:
        batch = selectors.batch_get(code=code)
        stock = selectors.batch_stock(batch_id=batch.pk)
        return Response(BatchOutput({**vars(batch), **stock}).data)


class ClaimCreateApi(PartnerApi):
    required_scope = "vouchers:claim"

    @extend_schema(
        operation_id="claims_create",
        summary="Claim a voucher of a batch for a member",
        description=(
            "Gives the member one voucher of the batch and answers it with its secret "
            "`code`; use it when a member takes a coupon in your app or shop. The member "
            "must exist in Quanyi first (*Create or update a member*). Keep the `code` "
            "safe and show it only to the member; it can be fetched again with *Reveal a "
            "voucher's code*. `channel` names where the claim came from, `trace` carries "
            "your own attribution data (under 2 KB).\n\n"
            "Send an `Idempotency-Key` so a retry after a timeout does not claim a "
            "second voucher.\n\nScope: `vouchers:claim`."
        ),
        tags=["batches"],
        parameters=[BATCH_CODE, IDEMPOTENCY_PARAMETER],
        request=ClaimCreateInput,
        responses={
            201: ClaimOutput,
            **problem_responses(
                ProblemCode.of(
                    NotFound,
                    "No batch with this code, or no member with this "
                    "external_id (create the member first).",
                ),
                ProblemCode.of(
                    BatchNotActive,
                    "The batch is not open for claims: not yet activated, paused or closed, "
                    "or outside its validity period.",
                ),
                ProblemCode.of(
                    LimitReached,
                    "The member already holds as many vouchers of this batch as one member may.",
                ),
                ProblemCode.of(SoldOut, "No voucher is left in this batch."),
                idempotent=True,
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        data = self.validate(ClaimCreateInput, request.data)
        result = voucher_claim(
            batch_code=code,
            member_external_id=data["member"],
            channel=data.get("channel", ""),
            trace=data.get("trace"),
            actor=self.actor,
        )
        response = Response(ClaimOutput(result).data, status=201)
        response["Cache-Control"] = "no-store"  # it carries the code
        return response


class VoucherDetailApi(PartnerApi):
    required_scope = "vouchers:read"

    @extend_schema(
        operation_id="vouchers_retrieve",
        summary="Read a voucher (never its code)",
        description=(
            "A voucher by its serial (the public number printed or shown beside the "
            "code): its batch, status, member, value and the times it was claimed, "
            "redeemed or expires. Use it to show a member's voucher or to check its state; "
            "the secret code is never part of it.\n\nScope: `vouchers:read`."
        ),
        parameters=[SERIAL],
        tags=["vouchers"],
        responses={
            200: VoucherOutput,
            **problem_responses(ProblemCode.of(NotFound, "No voucher with this serial.")),
        },
    )
    def get(self, request: Request, serial: str) -> Response:
        return Response(VoucherOutput(selectors.voucher_get(serial=serial)).data)


class SecretOutput(serializers.Serializer):
    serial = serializers.CharField()
    code = serializers.CharField()


class VoucherSecretApi(PartnerApi):
    required_scope = "vouchers:reveal"

    @extend_schema(
        operation_id="vouchers_secret_retrieve",
        summary="Reveal a voucher's code (recorded)",
        description=(
            "The secret code of a voucher, for showing it to its member again (for "
            "example after they lost the claim's answer). Every call is recorded. A client "
            "sees only the codes of vouchers claimed through it, unless it also holds "
            "`vouchers:reveal_any`; any other serial answers 404 `not_found`, exactly like "
            "an unknown one, and too many of them answer 429 `rate_limited`.\n\n"
            "Scope: `vouchers:reveal`."
        ),
        parameters=[SERIAL],
        tags=["vouchers"],
        responses={
            200: SecretOutput,
            **problem_responses(
                ProblemCode.of(
                    NotFound,
                    "No voucher with this serial that this client may reveal.",
                ),
                ProblemCode.of(VoucherFrozen, "The voucher is frozen; its code is withheld."),
                ProblemCode.of(VoucherVoid, "The voucher was voided; its code is withheld."),
                ProblemCode.of(
                    InvalidTransition,
                    "The voucher is a card secret nobody has claimed: revealing it would "
                    "hand it out. Claim it first.",
                ),
            ),
        },
    )
    def get(self, request: Request, serial: str) -> Response:
        revealed = voucher_reveal_for_partner(
            serial=serial,
            actor=self.actor,
            reveal_any=self.client.has_scope(REVEAL_ANY_SCOPE),
        )
        body = {"serial": revealed.voucher.serial, "code": revealed.code}
        response = Response(SecretOutput(body).data)
        response["Cache-Control"] = "no-store"
        return response


class MemberVoucherListApi(PartnerApi):
    required_scope = "members:read"

    @extend_schema(
        operation_id="members_vouchers_list",
        summary="Vouchers a member holds (no codes)",
        description=(
            "The vouchers this member holds, most recently claimed first, a page at a time "
            "(`page`, `page_size` up to 200), optionally only those in one `status` (for "
            "example `claimed` for the ones they can still use). Use it for the member's "
            '"my coupons" page; codes are not included.\n\nScope: `members:read`.'
        ),
        tags=["members"],
        parameters=[
            EXTERNAL_ID,
            OpenApiParameter(
                "status",
                enum=Voucher.Status.values,
                required=False,
                description="Only the vouchers in this status; all of them when left out.",
            ),
            OpenApiParameter("page", int, required=False, description="The page, from 1."),
            OpenApiParameter(
                "page_size",
                int,
                required=False,
                description="Vouchers per page: 50 when left out, at most 200.",
            ),
        ],
        responses={
            200: VoucherPageOutput,
            **problem_responses(
                ProblemCode.of(NotFound, "No member with this external_id, or no such page."),
                ProblemCode.of(ValidationFailed, "`status` is not one of the listed values."),
            ),
        },
    )
    def get(self, request: Request, external_id: str) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in Voucher.Status.values:
            raise ValidationFailed(
                {"status": [_("One of: %(values)s") % {"values": ", ".join(Voucher.Status.values)}]}
            )
        member = member_get(external_id=external_id)
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            selectors.member_vouchers(member=member, status=status), request, view=self
        )
        return paginator.get_paginated_response(VoucherOutput(page, many=True).data)
