from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.stamped import ActorStamped

from .core import Member
from .events import MemberEvent


class EarningRule(models.Model):
    """What an event kind earns: points and growth value, per event or per whole yuan.

    Per-yuan amounts count whole yuan only (rounded down), then the member's tier
    multiplier applies to points (rounded down), then the daily cap per member. Points
    expire at the end of the `points_valid_months`-th month after the month they were
    earned in (empty: never); purchase points become spendable `points_pending_days`
    after the purchase (the refund window; 0 = at once).
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, blank=True)
    event = models.CharField(_("event kind"), max_length=64, db_index=True)
    points = models.PositiveIntegerField(_("points per event"), null=True, blank=True)
    points_per_yuan = models.DecimalField(
        _("points per yuan"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    growth = models.PositiveIntegerField(_("growth per event"), null=True, blank=True)
    growth_per_yuan = models.DecimalField(
        _("growth per yuan"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    tier_multipliers = models.JSONField(
        _("tier multipliers"),
        default=dict,
        blank=True,
        help_text=_('Points multiplier per tier code, e.g. {"gold": "1.5"}.'),
    )
    daily_cap = models.PositiveIntegerField(
        _("daily cap"), null=True, blank=True, help_text=_("Points per member per day.")
    )
    points_valid_months = models.PositiveSmallIntegerField(
        _("points valid (months)"), null=True, blank=True
    )
    points_pending_days = models.PositiveSmallIntegerField(_("points pending (days)"), default=0)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(points__isnull=False, points_per_yuan__isnull=False),
                name="earning_rule_points_one_way",
            ),
            models.CheckConstraint(
                condition=~models.Q(growth__isnull=False, growth_per_yuan__isnull=False),
                name="earning_rule_growth_one_way",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.code


class PointsEntry(ActorStamped):
    """One line of a member's points ledger; the ledger is the truth, `Member.points` its
    sum. Entries are never edited except an earning lot's `remaining`.

    Earning lots (`earn`, and positive `adjust`) carry `remaining` (not yet spent, expired
    or taken back), `activates_at` (spendable from; pending before) and `expires_at`.
    Spends, expiries and take-backs are negative entries that reduce lots' `remaining`,
    the oldest spendable lot first. `balance_after` is `Member.points` right after the
    entry, written under the member's row lock.
    """

    class Kind(models.TextChoices):
        EARN = "earn", _("earned")
        SPEND = "spend", _("spent")
        EXPIRE = "expire", _("expired")
        REFUND = "refund", _("taken back (refund)")
        ADJUST = "adjust", _("adjusted")

    # No index of its own: `points_member_newest` (member, -created_at) serves member
    # lookups, and one index fewer is one write fewer per entry and per expired lot.
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="points_entries",
        verbose_name=_("member"),
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    amount = models.IntegerField(_("amount"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    ref = models.CharField(_("reference"), max_length=64, blank=True)
    event = models.ForeignKey(
        MemberEvent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_entries",
        verbose_name=_("event"),
    )
    # No index on `rule` or `user`: nothing reads the ledger by them, and deleting a
    # rule or a user (rare console acts) may scan; every entry and every expired lot
    # would otherwise pay two more index writes.
    rule = models.ForeignKey(
        EarningRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("earning rule"),
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
        db_index=False,
    )
    remaining = models.IntegerField(_("remaining"), default=0)
    activates_at = models.DateTimeField(_("spendable from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    shortfall = models.IntegerField(
        _("not taken back"),
        default=0,
        help_text=_("A refund's points that could not be taken back (already spent)."),
    )

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0), name="points_remaining_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0), name="points_balance_after_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(remaining=0) | models.Q(amount__gte=models.F("remaining")),
                name="points_remaining_le_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="points_member_newest"),
            # The open lots: spends walk a member's oldest first (FIFO by id), expiry
            # finds them by date.
            models.Index(
                fields=["member", "id"],
                condition=models.Q(remaining__gt=0),
                name="points_open_lots",
            ),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(remaining__gt=0),
                name="points_expiring_lots",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class PointsDaily(models.Model):
    """Points a member earned through one rule on one day (platform time zone): the
    daily cap's counter, written under the member's row lock."""

    # points_daily_unique (member, rule, day) serves lookups by member; a rule's rows are
    # looked up only when the rule is deleted.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    rule = models.ForeignKey(
        EarningRule, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    points = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("points earned in a day")
        verbose_name_plural = _("points earned per day")
        constraints = [
            models.UniqueConstraint(fields=["member", "rule", "day"], name="points_daily_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.points}"
