"""The tier benefit matrix (tier, benefit, quota per period, mode) and the quota
counters that make "每月可领一次" exact under concurrency."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member, Tier

from .catalog import Benefit


class TierBenefit(models.Model):
    class Mode(models.TextChoices):
        CLAIMABLE = "claimable", _("claimable")
        ON_UPGRADE = "on_upgrade", _("on upgrade")
        EACH_PERIOD = "each_period", _("each period")

    tier = models.ForeignKey(
        Tier, on_delete=models.CASCADE, related_name="+", verbose_name=_("tier")
    )
    benefit = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="tier_rows", verbose_name=_("benefit")
    )
    quota = models.PositiveIntegerField(_("quota"), default=1)
    period = models.CharField(
        _("period"), max_length=16, choices=Benefit.Period.choices, default=Benefit.Period.MONTH
    )
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.CLAIMABLE)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tier benefit")
        verbose_name_plural = _("tier benefits")
        ordering = ["tier__rank", "benefit__priority", "benefit__code"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "benefit"], name="tier_benefit_once"),
            models.CheckConstraint(condition=Q(quota__gte=1), name="tier_benefit_quota_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} · {self.benefit}"


class QuotaUse(models.Model):
    """How many of a benefit a member took in one period through one route (`scope`:
    `tier` for the matrix, `points` for exchanges). Incremented by one conditional
    upsert (`used < limit`), so racing claims count each other and none is refused
    while the quota has room."""

    class Scope(models.TextChoices):
        TIER = "tier", _("tier benefit")
        POINTS = "points", _("points exchange")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    period_start = models.DateField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("quota use")
        verbose_name_plural = _("quota uses")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "benefit", "scope", "period_start"], name="quota_use_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.benefit_id}:{self.scope}:{self.period_start}={self.used}"
