from django.db import models
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.stamped import ActorStamped

from .core import Member, Tier
from .events import MemberEvent


class TierPolicy(models.Model):
    """How tiers follow growth value (one row, id 1): growth counts for
    `qualifying_months`; a tier reached is held at least `hold_months`; at the end of the
    hold it is reviewed and, when qualifying growth no longer retains it, lowered by one
    step, to the tier earned, or never."""

    class Downgrade(models.TextChoices):
        ONE_STEP = "one_step", _("one step down")
        TO_EARNED = "to_earned", _("down to the tier earned")
        NEVER = "never", _("never")

    qualifying_months = models.PositiveSmallIntegerField(_("qualifying months"), default=12)
    hold_months = models.PositiveSmallIntegerField(_("hold months"), default=12)
    downgrade = models.CharField(
        _("downgrade"), max_length=16, choices=Downgrade.choices, default=Downgrade.ONE_STEP
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policy")

    def __str__(self) -> str:
        return str(_("tier policy"))

    @classmethod
    def current(cls) -> "TierPolicy":
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class GrowthEntry(models.Model):
    """Growth value a member gained (or lost by a refund) at a time; qualifying growth is
    the sum over the policy's last `qualifying_months`."""

    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="growth_entries",
        verbose_name=_("member"),
        db_index=False,  # growth_member_time (member, occurred_at) serves it
    )
    amount = models.IntegerField(_("amount"))
    occurred_at = models.DateTimeField(_("occurred at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    event = models.ForeignKey(
        MemberEvent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="growth_entries",
        verbose_name=_("event"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("growth entry")
        verbose_name_plural = _("growth entries")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["member", "occurred_at"], name="growth_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d}"


class TierChange(ActorStamped):
    """One change of a member's tier: from, to, why, when (and who, for manual ones)."""

    class Reason(models.TextChoices):
        UPGRADE = "upgrade", _("upgraded by growth value")
        REVIEW = "review", _("reviewed at the end of the hold")
        MANUAL = "manual", _("set by an operator")
        MANUAL_ENDED = "manual_ended", _("manual tier ended")
        THRESHOLDS = "thresholds", _("tier thresholds changed")
        PARTNER = "partner", _("set by a partner system")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="tier_changes", verbose_name=_("member")
    )
    from_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from"),
    )
    to_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to"),
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    event = models.ForeignKey(
        MemberEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tier_changes",
        verbose_name=_("event"),
    )

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="tier_change_member")]

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier or '—'}"
