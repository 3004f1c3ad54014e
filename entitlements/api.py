"""Partner API of benefits and grants (API.md, "Benefits and grants"). Views validate,
call one service or selector, render."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from members.api import EXTERNAL_ID
from members.services import InsufficientPoints
from riskcontrol.core.errors import NotFound, ValidationFailed
from riskcontrol.http.pagination import PagePagination
from riskcontrol.http.partner_api import PartnerApi
from riskcontrol.http.schema import IDEMPOTENCY_PARAMETER, ProblemCode, problem_responses

from . import selectors
from .errors import (
    BenefitInactive,
    BudgetExhausted,
    NotEligible,
    OutOfStock,
    QuotaExhausted,
    RegionUnavailable,
)
from .models import Benefit, Grant
from .renderers import entitlements_data, grant_created_context, grant_created_data
from .serializers import (
    BenefitDetailOutput,
    BenefitOutput,
    BenefitPageOutput,
    EntitlementsOutput,
    GrantCreatedOutput,
    GrantCreateInput,
    GrantOutput,
)
from .services import benefit_grant

BENEFIT_CODE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, description="The benefit's code, e.g. `COFFEE`."
)
GRANT_ID = OpenApiParameter(
    "grant_id",
    str,
    OpenApiParameter.PATH,
    description="The grant's `id` (a UUID), as answered by *Grant a benefit to a member*.",
)


class BenefitListApi(PartnerApi):
    required_scope = "benefits:read"

    @extend_schema(
        operation_id="benefits_list",
        summary="The benefit catalog",
        description=(
            "Every benefit, in priority order (the order a member's app should show them), "
            "a page at a time (`page`, `page_size` up to 200). `kind` keeps one kind; `tier` "
            "keeps the benefits in that tier's benefit matrix. `active` says whether a "
            "benefit can be granted right now; a pack lists its `items`, and `fallbacks` "
            "names the equivalent benefits granted instead when every source is empty."
            "\n\nScope: `benefits:read`."
        ),
        tags=["benefits"],
        parameters=[
            OpenApiParameter(
                "kind", enum=Benefit.Kind.values, required=False, description="Only this kind."
            ),
            OpenApiParameter(
                "tier", str, required=False, description="A tier code: only its matrix's benefits."
            ),
            OpenApiParameter("page", int, required=False, description="The page, from 1."),
            OpenApiParameter(
                "page_size", int, required=False, description="Benefits per page (up to 200)."
            ),
        ],
        responses={
            200: BenefitPageOutput,
            **problem_responses(
                ProblemCode.of(NotFound, "No such page."),
                ProblemCode.of(
                    ValidationFailed, "`kind` is not one of the listed values, or `tier` no tier."
                ),
            ),
        },
    )
    def get(self, request: Request) -> Response:
        benefits = selectors.benefit_list(
            kind=request.query_params.get("kind") or None,
            tier=request.query_params.get("tier") or None,
        )
        paginator = PagePagination()
        page = paginator.paginate_queryset(benefits, request, view=self)
        context = {"now": timezone.now()}
        return paginator.get_paginated_response(
            BenefitOutput(page, many=True, context=context).data
        )


class BenefitDetailApi(PartnerApi):
    required_scope = "benefits:read"

    @extend_schema(
        operation_id="benefits_retrieve",
        summary="Read a benefit and its stock",
        description=(
            "A benefit by its code, with `stock`: the units that can be granted now across "
            "its sources in order (for a pack, how many whole packs its items allow; null "
            "when nothing limits it). When it reaches 0 a grant may still succeed through an "
            "equivalent benefit in `fallbacks`.\n\nScope: `benefits:read`."
        ),
        tags=["benefits"],
        parameters=[BENEFIT_CODE],
        responses={
            200: BenefitDetailOutput,
            **problem_responses(ProblemCode.of(NotFound, "No benefit with this code.")),
        },
    )
    def get(self, request: Request, code: str) -> Response:
        benefit = selectors.benefit_detail(code=code)
        benefit.stock = selectors.benefit_stock(benefit)
        return Response(BenefitDetailOutput(benefit, context={"now": timezone.now()}).data)


GRANT_REFUSALS = (
    ProblemCode.of(
        NotFound,
        "No member with this external_id (create the member first), or no benefit with this code.",
    ),
    ProblemCode.of(
        NotEligible,
        "The member does not qualify: `via: tier` for a benefit not in the matrix of the "
        "member's tier, `via: points` for a benefit without a points price, or a benefit "
        "kept for a segment the member is not in.",
    ),
    ProblemCode.of(
        QuotaExhausted,
        "The member used this benefit's quota for the period (the tier matrix's, or the "
        "points exchange limit); `resets_at` says when the next period starts (null for a "
        "lifetime quota).",
        resets_at="2026-01-01T00:00:00+08:00",
    ),
    ProblemCode.of(
        InsufficientPoints, "The member has fewer spendable points than the points price."
    ),
    ProblemCode.of(
        OutOfStock, "No source of the benefit and none of its equivalent benefits has stock left."
    ),
    ProblemCode.of(BudgetExhausted),
    ProblemCode.of(BenefitInactive, "The benefit is switched off or outside its active window."),
    ProblemCode.of(RegionUnavailable),
)


class GrantCreateApi(PartnerApi):
    required_scope = "benefits:grant"

    @extend_schema(
        operation_id="grants_create",
        summary="Grant a benefit to a member",
        description=(
            "The one way a member receives a benefit: `via: tier` claims a benefit of the "
            "member's tier (counted against its quota), `via: points` exchanges the "
            "benefit's points price (spent and granted together: a refused grant spends "
            "nothing), `via: campaign` or `api` is your own grant. A coupon or card secret "
            "is handed out at once: 201 with the vouchers and their codes — the only answer "
            "that carries them, so keep them safe and show them to the member only. A "
            "direct top-up or a physical gift answers 202 with `status: pending`. When every "
            "source is empty the first equivalent benefit with stock is granted instead and "
            "`substituted_from` names the one asked for. A pack is granted whole (its items "
            "as `children`) or not at all. A direct top-up needs `account` (answered "
            "masked); a physical gift needs `address` (kept sealed, never answered). "
            "`context` is the end user's own address and device.\n\n"
            "Every refusal answers 409 with its stable `code` and is recorded.\n\n"
            "Send an `Idempotency-Key` so that a retry after a timeout does not grant "
            "twice.\n\nScope: `benefits:grant`."
        ),
        tags=["benefits"],
        parameters=[EXTERNAL_ID, IDEMPOTENCY_PARAMETER],
        request=GrantCreateInput,
        responses={
            201: GrantCreatedOutput,
            202: GrantCreatedOutput,
            **problem_responses(*GRANT_REFUSALS, idempotent=True),
        },
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = self.validate(GrantCreateInput, request.data)
        result = benefit_grant(
            member=external_id,
            benefit=data["benefit"],
            via=data["via"],
            actor=self.actor,
            channel=data.get("channel", ""),
            account=data.get("account", ""),
            address=data.get("address", ""),
            context=data.get("context"),
        )
        grant = result.grant
        context = grant_created_context(result, selectors.grant_children(grant))
        status = 202 if grant.status == Grant.Status.PENDING else 201
        response = Response(grant_created_data(grant, context), status=status)
        response["Cache-Control"] = "no-store"  # it carries the codes
        return response


class GrantDetailApi(PartnerApi):
    required_scope = "benefits:grant"

    @extend_schema(
        operation_id="grants_retrieve",
        summary="Read a grant (never its codes)",
        description=(
            "A grant this client asked for, by its `id`: its status (a pending top-up or "
            "gift becomes fulfilled; a grant may be revoked), its vouchers without their "
            "codes, a pack's item grants, a gift's shipping. Grants made by another client, "
            "by an operator or by the tier automation are not shown here (they appear in "
            "the member's entitlements): their ids answer 404 `not_found` like unknown ones."
            "\n\nScope: `benefits:grant`."
        ),
        tags=["benefits"],
        parameters=[GRANT_ID],
        responses={
            200: GrantOutput,
            **problem_responses(ProblemCode.of(NotFound, "No grant with this id for this client.")),
        },
    )
    def get(self, request: Request, grant_id: str) -> Response:
        grant = selectors.grant_for_client(grant_id=grant_id, partner_client_id=self.client.pk)
        return Response(GrantOutput(grant).data)


class MemberEntitlementsApi(PartnerApi):
    required_scope = "members:read"

    @extend_schema(
        operation_id="members_entitlements_retrieve",
        summary="Everything a member holds and may take now",
        description=(
            "For the member's benefits page, in one call: `holdings`, the vouchers they can "
            "still use (no codes), each with `usable_now` and its rules (value, minimum "
            "order, validity); `claimable`, the benefits of their tier they may claim "
            "(`via: tier`) and those they may exchange points for (`via: points`), each "
            "with its quota for the current period (`used` of `limit`, `resets_at`) or "
            "null, and its points price; `privileges`, the privileges they hold and until "
            "when. Each list is in priority order. Offered benefits are listed even when "
            "the quota is used up (then `used` equals `limit`).\n\nScope: `members:read`."
        ),
        tags=["members"],
        parameters=[EXTERNAL_ID],
        responses={
            200: EntitlementsOutput,
            **problem_responses(ProblemCode.of(NotFound, "No member with this external_id.")),
        },
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.entitlements_member(external_id=external_id)
        return Response(entitlements_data(selectors.member_entitlements(member)))
