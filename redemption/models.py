from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.text import validate_identifier


class Store(models.Model):
    """A place where vouchers are redeemed. Partner ERP/POS systems keep the list in sync."""

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[validate_identifier])
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=255, blank=True)
    group = models.CharField(
        _("group"), max_length=64, blank=True, db_index=True, help_text=_("e.g. a city or region")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StoreStaff(models.Model):
    class Role(models.TextChoices):
        CLERK = "clerk", _("clerk")
        MANAGER = "manager", _("manager")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="store_assignments",
        verbose_name=_("user"),
    )
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="staff", verbose_name=_("store")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CLERK)

    class Meta:
        verbose_name = _("store staff")
        verbose_name_plural = _("store staff")
        constraints = [
            models.UniqueConstraint(fields=["user", "store"], name="store_staff_user_store_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store.code} ({self.get_role_display()})"


class BatchRedemptionRule(models.Model):
    """Where, when and from what order amount a batch's vouchers may be redeemed."""

    class StoreScope(models.TextChoices):
        ALL = "all", _("all stores")
        LISTED = "listed", _("listed stores only")
        GROUPS = "groups", _("stores in the listed groups")

    batch = models.OneToOneField(
        "vouchers.VoucherBatch",
        on_delete=models.CASCADE,
        related_name="redemption_rule",
        verbose_name=_("batch"),
    )
    store_scope = models.CharField(
        _("where"), max_length=16, choices=StoreScope.choices, default=StoreScope.ALL
    )
    stores = models.ManyToManyField(Store, blank=True, verbose_name=_("stores"))
    store_groups = models.JSONField(_("store groups"), default=list, blank=True)
    windows = models.JSONField(
        _("weekly time windows"),
        default=list,
        blank=True,
        help_text=_("Empty: any time."),
    )
    min_order_amount = models.DecimalField(
        _("minimum order amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("redemption rule")
        verbose_name_plural = _("redemption rules")

    def __str__(self) -> str:
        return str(self.batch)


class Redemption(models.Model):
    """One use of a voucher at a store. `discount_amount` is what the voucher was worth on
    this order: the figure stores are settled on."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("completed")
        REVERSED = "reversed", _("reversed")

    class Method(models.TextChoices):
        CODE = "code", _("code")
        TOKEN = "token", _("QR token")
        SERIAL = "serial", _("serial (trusted POS)")

    voucher = models.ForeignKey(
        "vouchers.Voucher",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("voucher"),
    )
    batch = models.ForeignKey(
        "vouchers.VoucherBatch",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("batch"),
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("store")
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True, db_index=True)
    order_amount = models.DecimalField(
        _("order amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    discount_amount = models.DecimalField(
        _("discount amount"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.COMPLETED
    )
    voucher_status_before = models.CharField(max_length=16)
    actor_label = models.CharField(_("redeemed by"), max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    partner_client = models.ForeignKey(
        "riskcontrol.PartnerClient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner client"),
    )
    redeemed_at = models.DateTimeField(_("redeemed at"), db_index=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    reversal_reason = models.CharField(_("reversal reason"), max_length=255, blank=True)
    reversed_by = models.CharField(_("reversed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-redeemed_at"]
        constraints = [
            # At most one live redemption per voucher; redeem -> reverse -> redeem works.
            models.UniqueConstraint(
                fields=["voucher"],
                condition=Q(status="completed"),
                name="redemption_one_completed_per_voucher",
            ),
            models.CheckConstraint(
                condition=Q(discount_amount__gte=0), name="redemption_discount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(status="completed", reversed_at__isnull=True)
                | Q(status="reversed", reversed_at__isnull=False),
                name="redemption_reversed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["store", "redeemed_at"], name="redemption_store_time_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.voucher_id} @ {self.store_id}"

    def reversible_until(self, window: dt.timedelta) -> dt.datetime:
        return self.redeemed_at + window
