"""`Grant`: the one record of a member receiving a benefit, whatever the route."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from riskcontrol.core.stamped import PartnerActorStamped
from vouchers.models import Voucher

from .catalog import Benefit


class Grant(PartnerActorStamped):
    class Via(models.TextChoices):
        TIER = "tier", _("tier benefit")
        POINTS = "points", _("points exchange")
        CAMPAIGN = "campaign", _("campaign")
        API = "api", _("partner API")
        OPERATOR = "operator", _("operator")
        AUTOMATION = "automation", _("automation")

    class Status(models.TextChoices):
        FULFILLED = "fulfilled", _("fulfilled")
        PENDING = "pending", _("pending")
        FAILED = "failed", _("failed")
        REVOKED = "revoked", _("revoked")

    class Fulfilment(models.TextChoices):
        NONE = "", _("—")
        WAITING = "waiting", _("waiting to ship")
        SHIPPED = "shipped", _("shipped")
        DELIVERED = "delivered", _("delivered")

    uid = models.UUIDField(_("grant id"), default=uuid.uuid4, unique=True, editable=False)
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    benefit = models.ForeignKey(
        Benefit, on_delete=models.PROTECT, related_name="grants", verbose_name=_("benefit")
    )
    substituted_from = models.ForeignKey(
        Benefit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("substituted for"),
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("pack grant"),
    )
    via = models.CharField(_("route"), max_length=16, choices=Via.choices)
    occasion = models.CharField(
        _("occasion"),
        max_length=16,
        blank=True,
        help_text=_("claim, on_upgrade or each_period for tier benefits."),
    )
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    points_spent = models.PositiveIntegerField(_("points spent"), default=0)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=0)
    quota_scope = models.CharField(max_length=8, blank=True, editable=False)
    quota_period_start = models.DateField(null=True, blank=True, editable=False)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    address_sealed = models.BinaryField(null=True, editable=False)
    account_sealed = models.BinaryField(null=True, editable=False)
    fulfilment = models.CharField(
        _("fulfilment"), max_length=16, choices=Fulfilment.choices, default="", blank=True
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    failure = models.CharField(_("failure"), max_length=32, blank=True)
    failure_detail = models.CharField(_("failure detail"), max_length=255, blank=True)
    dedupe_key = models.CharField(  # noqa: DJ001 - NULL: no key; unique only when set
        max_length=120, null=True, blank=True, editable=False
    )
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(_("revoke reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="grant_dedupe_key_once",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="grant_member_newest"),
            models.Index(fields=["benefit", "status"], name="grant_benefit_status"),
            models.Index(
                fields=["fulfilment", "id"],
                condition=~Q(fulfilment=""),
                name="grant_fulfilment_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benefit.code} → {self.member.external_id} ({self.get_status_display()})"


class GrantVoucher(models.Model):
    """A voucher a grant handed out. `voucher` is unique: no voucher is granted twice."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="grant_vouchers")
    voucher = models.OneToOneField(Voucher, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("granted voucher")
        verbose_name_plural = _("granted vouchers")

    def __str__(self) -> str:
        return f"{self.grant_id}:{self.voucher_id}"
