from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from riskcontrol.core.errors import NotFound, PermissionDenied
from riskcontrol.core.text import validate_identifier
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, problem_responses
from vouchers.services import REVEAL_ANY_SCOPE

from .models import Redemption, Store
from .presentations import presentation_create_for_partner
from .services import redemption_create, redemption_reverse, store_upsert


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
            "Exactly one of `code`, `token` (a presentation token) or `serial` (needs scope "
            "`redemptions:serial`). Unknown codes and bad tokens count towards the guessing "
            "limit (429 `rate_limited`). `already_redeemed` carries `redeemed_at` and `store`."
        ),
        tags=["redemptions"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=RedemptionCreateInput,
        responses={201: RedemptionOutput, **problem_responses(400, 404, 409, 415, 422)},
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
        tags=["redemptions"],
        responses={200: RedemptionOutput, **problem_responses(404)},
    )
    def get(self, request: Request, redemption_id: int) -> Response:
        return Response(RedemptionOutput(_redemption(redemption_id, self.client)).data)


class ReversalCreateApi(PartnerApi):
    required_scope = "redemptions:write"

    @extend_schema(
        operation_id="redemptions_reversal_create",
        summary="Reverse a redemption (refund)",
        description="409 `already_reversed`, or `reversal_window_passed` after the window.",
        tags=["redemptions"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ReversalInput,
        responses={200: RedemptionOutput, **problem_responses(400, 404, 409, 415, 422)},
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
        tags=["stores"],
        responses={200: StoreOutput, **problem_responses(404)},
    )
    def get(self, request: Request, code: str) -> Response:
        store = Store.objects.filter(code=code).first()
        if store is None:
            raise NotFound(_("No store with this code."))
        return Response(StoreOutput(store).data)

    @extend_schema(
        operation_id="stores_upsert",
        summary="Create or update a store",
        tags=["stores"],
        request=StoreInput,
        responses={201: StoreOutput, 200: StoreOutput, **problem_responses(400, 415)},
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
            "A token redeems like the code, so a client gets tokens only for vouchers "
            "claimed through it (scope `vouchers:reveal_any` lifts that); any other serial "
            "answers 404 `not_found` like an unknown one, and both count towards the "
            "guessing limit (429 `rate_limited`)."
        ),
        tags=["vouchers"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=None,
        responses={201: PresentationOutput, **problem_responses(404, 409, 415, 422)},
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
