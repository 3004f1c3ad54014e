from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.core.errors import NotFound, PermissionDenied
from riskcontrol.core.text import validate_identifier
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, ProblemCode, problem_responses
from vouchers.errors import InvalidTransition, VoucherExpired, VoucherFrozen, VoucherVoid
from vouchers.services import REVEAL_ANY_SCOPE

from .errors import (
    AlreadyRedeemed,
    AlreadyReversed,
    BelowMinimumOrder,
    NotClaimed,
    NotRedeemableHere,
    OutsideRedemptionWindow,
    ReversalWindowPassed,
    TokenExpired,
)
from .models import Redemption, Store
from .presentations import presentation_create_for_partner
from .services import redemption_create, redemption_reverse, store_upsert

SERIAL = OpenApiParameter(
    "serial",
    str,
    OpenApiParameter.PATH,
    description="The voucher's serial: its public number, as answered by the claim.",
)
REDEMPTION_ID = OpenApiParameter(
    "redemption_id",
    int,
    OpenApiParameter.PATH,
    description="The `id` answered when the voucher was redeemed.",
)
STORE_CODE = OpenApiParameter(
    "code",
    str,
    OpenApiParameter.PATH,
    description="Your code for the store (at most 32 characters).",
)


class RedemptionCreateInput(serializers.Serializer):
    code = serializers.CharField(max_length=128, required=False)
    token = serializers.CharField(max_length=256, required=False)
    serial = serializers.CharField(max_length=64, required=False, validators=[validate_identifier])
    store = serializers.CharField(
        max_length=32, validators=[validate_identifier], help_text="Store code."
    )
    order_ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[validate_identifier]
    )
    order_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )

    def validate(self, attrs):
        given = [name for name in ("code", "token", "serial") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(_("Give exactly one of code, token or serial."))
        return attrs


class RedemptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    voucher = serializers.CharField(source="voucher.serial")
    batch = serializers.CharField(source="batch.code")
    store = serializers.CharField(source="store.code")
    order_ref = serializers.CharField()
    order_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    discount_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    redeemed_at = serializers.DateTimeField()
    reversed_at = serializers.DateTimeField(allow_null=True)


class ReversalInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class StoreInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    group = serializers.CharField(max_length=64, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)


class StoreOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    group = serializers.CharField()
    active = serializers.BooleanField()


class PresentationOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Show it as a QR code; it never contains the code.")
    qr_svg = serializers.CharField(help_text="The token as an inline SVG QR code.")
    expires_at = serializers.DateTimeField()


def _redemption(redemption_id: int, client) -> Redemption:
    redemption = (
        Redemption.objects.select_related("voucher", "batch", "store")
        .filter(pk=redemption_id)
        .first()
    )
    if redemption is None or (client.store_code and redemption.store.code != client.store_code):
        raise NotFound(_("No redemption with this id."))
    return redemption


@method_decorator(sensitive_post_parameters("code", "token"), name="dispatch")
class RedemptionCreateApi(PartnerApi):
    required_scope = "redemptions:write"

    @extend_schema(
        operation_id="redemptions_create",
        summary="Redeem a voucher at a store",
        description=(
            "Uses up a voucher at one of your stores, for the till or POS when a member "
            "hands over a voucher. Name the voucher by exactly one of: the `code` the "
            "member shows (typed or scanned), the `token` of a QR code made by *A "
            "short-lived QR token for the member's app*, or its `serial` (only for a "
            "trusted POS that has already checked the member; needs scope "
            "`redemptions:serial`). Send `order_amount` when the batch has a minimum order "
            "or takes a percentage off, and `order_ref` to find the redemption later. The "
            "answer says how much was taken off (`discount_amount`).\n\n"
            "Unknown codes and tokens count towards a guessing limit; after too many, "
            "calls answer 429 `rate_limited` for a while. A key bound to a store can "
            "redeem only at that store. Send an `Idempotency-Key` so a retry after a "
            "timeout cannot redeem twice.\n\nScope: `redemptions:write`."
        ),
        tags=["redemptions"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=RedemptionCreateInput,
        responses={
            201: RedemptionOutput,
            **problem_responses(
                ProblemCode.of(
                    NotFound,
                    "No voucher has this code, token or serial, or no active store has this code.",
                ),
                ProblemCode.of(
                    AlreadyRedeemed,
                    "The voucher was already redeemed; `redeemed_at`, `store` and "
                    "`store_name` say when and where.",
                    redeemed_at="2026-11-28T10:15:00+08:00",
                    store="S001",
                    store_name="Store 1",
                ),
                ProblemCode.of(
                    NotClaimed,
                    "No member has claimed this voucher and its batch does not allow "
                    "redeeming unclaimed codes, or the voucher is not valid yet.",
                ),
                ProblemCode.of(VoucherExpired, "The voucher or its batch has expired."),
                ProblemCode.of(VoucherFrozen, "The voucher is frozen."),
                ProblemCode.of(VoucherVoid, "The voucher was voided."),
                ProblemCode.of(NotRedeemableHere, "The batch's rules do not allow this store."),
                ProblemCode.of(
                    OutsideRedemptionWindow,
                    "Outside the batch's weekly redemption hours; `detail` says when it "
                    "can be redeemed.",
                ),
                ProblemCode.of(
                    BelowMinimumOrder,
                    "`order_amount` is missing or below the batch's minimum order, given "
                    "in `minimum_order_amount`.",
                    minimum_order_amount="100.00",
                ),
                ProblemCode.of(
                    TokenExpired, "The QR token is past its lifetime; ask for a fresh one."
                ),
                ProblemCode.of(
                    InvalidTransition,
                    "The voucher changed state while this request ran; read it again.",
                ),
                idempotent=True,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validate(RedemptionCreateInput, request.data)
        if data.get("serial") and "redemptions:serial" not in request.user.scopes:
            raise PermissionDenied(_("Redeeming by serial needs the redemptions:serial scope."))
        redemption = redemption_create(
            store_code=data["store"],
            code=data.get("code"),
            token=data.get("token"),
            serial=data.get("serial"),
            order_ref=data.get("order_ref", ""),
            order_amount=data.get("order_amount"),
            actor=self.actor,
            bound_store_code=self.client.store_code,
        )
        return Response(RedemptionOutput(redemption).data, status=201)


class RedemptionDetailApi(PartnerApi):
    required_scope = "redemptions:read"

    @extend_schema(
        operation_id="redemptions_retrieve",
        summary="Read a redemption",
        description=(
            "A redemption by the `id` its creation answered: voucher, store, order, "
            "discount and whether it was reversed. A key bound to a store sees only that "
            "store's redemptions.\n\nScope: `redemptions:read`."
        ),
        parameters=[REDEMPTION_ID],
        tags=["redemptions"],
        responses={
            200: RedemptionOutput,
            **problem_responses(ProblemCode.of(NotFound, "No redemption with this id.")),
        },
    )
    def get(self, request: Request, redemption_id: int) -> Response:
        return Response(RedemptionOutput(_redemption(redemption_id, self.client)).data)


class ReversalCreateApi(PartnerApi):
    required_scope = "redemptions:write"

    @extend_schema(
        operation_id="redemptions_reversal_create",
        summary="Reverse a redemption (refund)",
        description=(
            "Undoes a redemption when the order is refunded or was keyed in by mistake: "
            "the voucher goes back to the state it had before (usable again) and the "
            "redemption's `status` becomes `reversed`. Give a short `reason`. Possible "
            "once, within the reversal window after redeeming (24 hours unless agreed "
            "otherwise).\n\n"
            "Scope: `redemptions:write`."
        ),
        tags=["redemptions"],
        parameters=[REDEMPTION_ID, IDEMPOTENCY_PARAMETER],
        request=ReversalInput,
        responses={
            200: RedemptionOutput,
            **problem_responses(
                ProblemCode.of(NotFound, "No redemption with this id."),
                ProblemCode.of(
                    AlreadyReversed,
                    "The redemption was already reversed; `reversed_at` says when.",
                    reversed_at="2026-11-28T10:20:00+08:00",
                ),
                ProblemCode.of(
                    ReversalWindowPassed, "The reversal window after redeeming has passed."
                ),
                ProblemCode.of(
                    InvalidTransition,
                    "The voucher changed state since it was redeemed; read it again.",
                ),
                idempotent=True,
            ),
        },
    )
    def post(self, request: Request, redemption_id: int) -> Response:
        data = self.validate(ReversalInput, request.data)
        redemption = redemption_reverse(
            redemption_id=redemption_id,
            reason=data["reason"],
            actor=self.actor,
            bound_store_code=self.client.store_code,
        )
        return Response(RedemptionOutput(_redemption(redemption.pk, self.client)).data)


class StoreApi(PartnerApi):
    def get_required_scopes(self, request: Request) -> tuple[str, ...]:
        return ("stores:write",) if request.method == "PUT" else ("stores:read",)

    @extend_schema(
        operation_id="stores_retrieve",
        summary="Read a store",
        description=(
            "A store by its code: name, address, group and whether it is active.\n\n"
            "Scope: `stores:read`."
        ),
        parameters=[STORE_CODE],
        tags=["stores"],
        responses={
            200: StoreOutput,
            **problem_responses(ProblemCode.of(NotFound, "No store with this code.")),
        },
    )
    def get(self, request: Request, code: str) -> Response:
        store = Store.objects.filter(code=code).first()
        if store is None:
            raise NotFound(_("No store with this code."))
        return Response(StoreOutput(store).data)

    @extend_schema(
        operation_id="stores_upsert",
        summary="Create or update a store",
        description=(
            "Keeps Quanyi's store list in step with your ERP or POS: creates the store "
            "with this code (201) or updates it (200). `group` is used by batch rules "
            "that allow whole groups of stores; an inactive store (`active: false`) "
            "cannot redeem. Sending the same body again changes nothing.\n\n"
            "Scope: `stores:write`."
        ),
        parameters=[STORE_CODE],
        tags=["stores"],
        request=StoreInput,
        responses={201: StoreOutput, 200: StoreOutput, **problem_responses(body=True)},
    )
    def put(self, request: Request, code: str) -> Response:
        data = self.validate(StoreInput, request.data)
        store, created = store_upsert(code=code, **data, actor=self.actor)
        return Response(StoreOutput(store).data, status=201 if created else 200)


class PresentationCreateApi(PartnerApi):
    required_scope = "vouchers:present"

    @extend_schema(
        operation_id="vouchers_presentations_create",
        summary="A short-lived QR token for the member's app",
        description=(
            "A token, and the same token as an SVG QR code, that the member's app shows at "
            "the till instead of the code itself; the store redeems it like the code. It "
            "expires after a short time (`expires_at`, two minutes by default), so a "
            "screenshot cannot be reused later; ask for a new one each time the member "
            "opens the voucher. Only for vouchers claimed through this client (unless it "
            "holds `vouchers:reveal_any`); any other serial answers 404 `not_found` like "
            "an unknown one and counts towards the guessing limit. No body is needed."
            "\n\nScope: `vouchers:present`."
        ),
        tags=["vouchers"],
        parameters=[SERIAL, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={
            201: PresentationOutput,
            **problem_responses(
                ProblemCode.of(
                    NotFound, "No voucher with this serial that this client may present."
                ),
                ProblemCode.of(
                    AlreadyRedeemed, "The voucher was already redeemed; `redeemed_at` says when."
                ),
                ProblemCode.of(VoucherExpired, "The voucher has expired."),
                ProblemCode.of(VoucherFrozen, "The voucher is frozen."),
                ProblemCode.of(VoucherVoid, "The voucher was voided."),
                ProblemCode.of(
                    NotClaimed, "The voucher is not held by a member, so it has no QR code."
                ),
                idempotent=True,
            ),
        },
    )
    def post(self, request: Request, serial: str) -> Response:
        presentation = presentation_create_for_partner(
            serial=serial,
            actor=self.actor,
            any_voucher=self.client.has_scope(REVEAL_ANY_SCOPE),
        )
        response = Response(PresentationOutput(presentation).data, status=201)
        response["Cache-Control"] = "no-store"
        return response
