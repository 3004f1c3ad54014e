"""The benefit catalog: what a member can receive, where it comes from (sources in
priority order), what may stand in for it when every source is empty (通兑 fallbacks)
and, for a pack, what it holds."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from members.models import Segment
from vouchers.models import VoucherBatch


class Benefit(models.Model):
    class Kind(models.TextChoices):
        COUPON = "coupon", _("coupon")
        CARD_SECRET = "card_secret", _("card secret")
        DIRECT_TOPUP = "direct_topup", _("direct top-up")
        PHYSICAL = "physical", _("physical gift")
        SERVICE = "service", _("service")
        PRIVILEGE = "privilege", _("privilege")
        PACK = "pack", _("pack")

    class Period(models.TextChoices):
        DAY = "day", _("day")
        WEEK = "week", _("week")
        MONTH = "month", _("month")
        QUARTER = "quarter", _("quarter")
        YEAR = "year", _("year")
        LIFETIME = "lifetime", _("lifetime")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    face_value = models.DecimalField(
        _("face value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    cost = models.DecimalField(
        _("cost per grant"),
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text=_("What one grant costs us; counted against the budget."),
    )
    points_price = models.PositiveIntegerField(
        _("points price"),
        null=True,
        blank=True,
        help_text=_("Members may exchange this many points for it; empty: not exchangeable."),
    )
    exchange_limit = models.PositiveIntegerField(
        _("exchanges per member"),
        null=True,
        blank=True,
        help_text=_("How often one member may exchange points for it per exchange period."),
    )
    exchange_period = models.CharField(
        _("exchange period"), max_length=16, choices=Period.choices, default=Period.MONTH
    )
    region = models.CharField(
        _("region"),
        max_length=6,
        blank=True,
        help_text=_("Province code (e.g. 310000); empty: everywhere."),
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("only for segment"),
    )
    budget = models.DecimalField(
        _("budget"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Cost cap over all grants; empty: no cap."),
    )
    budget_used = models.DecimalField(
        _("budget used"), max_digits=14, decimal_places=2, default=0, editable=False
    )
    units_left = models.PositiveIntegerField(
        _("units left"),
        null=True,
        blank=True,
        help_text=_(
            "For a physical gift or a service without voucher sources: units that can "
            "still be granted; empty: no limit."
        ),
    )
    valid_days = models.PositiveIntegerField(
        _("valid days"),
        null=True,
        blank=True,
        help_text=_("A privilege lasts this many days from the grant."),
    )
    active = models.BooleanField(_("active"), default=True)
    active_from = models.DateTimeField(_("active from"), null=True, blank=True)
    active_until = models.DateTimeField(_("active until"), null=True, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("Lower comes first in the member's list.")
    )
    description = models.TextField(_("description"), blank=True)
    image_url = models.URLField(_("image"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget_used__lte=F("budget")),
                name="benefit_budget_not_exceeded",
            ),
            models.CheckConstraint(
                condition=Q(budget_used__gte=0), name="benefit_budget_used_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def is_active_at(self, now: dt.datetime) -> bool:
        if not self.active:
            return False
        if self.active_from and now < self.active_from:
            return False
        return not (self.active_until and now >= self.active_until)

    @property
    def has_stock_of_its_own(self) -> bool:
        """Privileges (and sourceless services and physical gifts) are granted without
        taking a voucher."""
        return self.kind in (self.Kind.PRIVILEGE, self.Kind.SERVICE, self.Kind.PHYSICAL)

    def uses_own_units(self) -> bool:
        """Granted from `units_left` rather than from sources (one query): the grant
        takes its units this way, and a revoke gives them back the same way."""
        return self.has_stock_of_its_own and not self.sources.exists()


class BenefitSource(models.Model):
    """Where a benefit's units come from, in priority order: the first with stock wins.
    `kind` names a source class in `entitlements/sources.py`; a voucher batch today."""

    class Kind(models.TextChoices):
        BATCH = "batch", _("voucher batch")

    benefit = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="sources", verbose_name=_("benefit")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BATCH)
    batch = models.ForeignKey(
        VoucherBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voucher batch"),
    )

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["benefit", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benefit", "batch"], name="benefit_source_batch_once"),
        ]

    def __str__(self) -> str:
        return str(self.batch) if self.batch_id else self.kind


class BenefitFallback(models.Model):
    """An equivalent benefit (通兑) granted instead when every source is empty."""

    benefit = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="fallback_links", verbose_name=_("benefit")
    )
    fallback = models.ForeignKey(
        Benefit, on_delete=models.PROTECT, related_name="+", verbose_name=_("fallback")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("fallback")
        verbose_name_plural = _("fallbacks")
        ordering = ["benefit", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benefit", "fallback"], name="benefit_fallback_once"),
            models.CheckConstraint(
                condition=~Q(benefit=F("fallback")), name="benefit_fallback_not_itself"
            ),
        ]

    def __str__(self) -> str:
        return str(self.fallback)


class PackItem(models.Model):
    pack = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="items", verbose_name=_("pack")
    )
    item = models.ForeignKey(
        Benefit, on_delete=models.PROTECT, related_name="+", verbose_name=_("benefit")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("pack item")
        verbose_name_plural = _("pack items")
        ordering = ["pack", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pack", "item"], name="pack_item_once"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="pack_item_quantity_positive"
            ),
            models.CheckConstraint(condition=~Q(pack=F("item")), name="pack_item_not_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.item} x {self.quantity}"
