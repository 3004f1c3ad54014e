"""Partner API v1. Paths have no trailing slash (docs/partner-api.md)."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from entitlements import api as entitlements_api
from members import api as members_api
from members import api_points as members_points_api
from members import api_tiers as members_tier_api
from redemption import api as redemption_api
from riskcontrol.core.text import IdentifierConverter
from riskcontrol.http import health as riskcontrol_api
from riskcontrol.http.problems import api_not_found
from vouchers import api as vouchers_api

# Path parameters are identifiers: control characters and direction marks never match.
register_converter(IdentifierConverter, "ident")

urlpatterns = [
    path("health", riskcontrol_api.HealthApi.as_view(), name="api-health"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("members", members_api.MemberUpsertApi.as_view(), name="api-member-upsert"),
    path(
        "members/<ident:external_id>",
        members_api.MemberDetailApi.as_view(),
        name="api-member-detail",
    ),
    path(
        "members/<ident:external_id>/tier",
        members_tier_api.MemberTierApi.as_view(),
        name="api-member-tier",
    ),
    path(
        "members/<ident:external_id>/vouchers",
        vouchers_api.MemberVoucherListApi.as_view(),
        name="api-member-vouchers",
    ),
    path(
        "members/<ident:external_id>/events",
        members_points_api.MemberEventCreateApi.as_view(),
        name="api-member-events",
    ),
    path(
        "members/<ident:external_id>/points",
        members_points_api.MemberPointsApi.as_view(),
        name="api-member-points",
    ),
    path(
        "members/<ident:external_id>/points/spend",
        members_points_api.MemberPointsSpendApi.as_view(),
        name="api-member-points-spend",
    ),
    path(
        "members/<ident:external_id>/entitlements",
        entitlements_api.MemberEntitlementsApi.as_view(),
        name="api-member-entitlements",
    ),
    path(
        "members/<ident:external_id>/grants",
        entitlements_api.GrantCreateApi.as_view(),
        name="api-grant-create",
    ),
    path("benefits", entitlements_api.BenefitListApi.as_view(), name="api-benefit-list"),
    path(
        "benefits/<ident:code>",
        entitlements_api.BenefitDetailApi.as_view(),
        name="api-benefit-detail",
    ),
    path(
        "grants/<ident:grant_id>",
        entitlements_api.GrantDetailApi.as_view(),
        name="api-grant-detail",
    ),
    path("batches/<ident:code>", vouchers_api.BatchDetailApi.as_view(), name="api-batch-detail"),
    path(
        "batches/<ident:code>/claims",
        vouchers_api.ClaimCreateApi.as_view(),
        name="api-claim-create",
    ),
    path(
        "vouchers/<ident:serial>",
        vouchers_api.VoucherDetailApi.as_view(),
        name="api-voucher-detail",
    ),
    path(
        "vouchers/<ident:serial>/secret",
        vouchers_api.VoucherSecretApi.as_view(),
        name="api-voucher-secret",
    ),
    path(
        "vouchers/<ident:serial>/presentations",
        redemption_api.PresentationCreateApi.as_view(),
        name="api-presentation-create",
    ),
    path("redemptions", redemption_api.RedemptionCreateApi.as_view(), name="api-redemption-create"),
    path(
        "redemptions/<int:redemption_id>",
        redemption_api.RedemptionDetailApi.as_view(),
        name="api-redemption-detail",
    ),
    path(
        "redemptions/<int:redemption_id>/reversal",
        redemption_api.ReversalCreateApi.as_view(),
        name="api-redemption-reversal",
    ),
    path("stores/<ident:code>", redemption_api.StoreApi.as_view(), name="api-store"),
    # Anything else under /api/v1 answers a problem document, never an HTML page.
    re_path(r"^.*$", api_not_found),
]
