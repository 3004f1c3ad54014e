from django.db import models
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.text import validate_identifier


class Tier(models.Model):
    """A ranked membership level (普通/银卡/金卡/黑金 …)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("Higher rank = higher tier.")
    )
    description = models.TextField(_("description"), blank=True)
    threshold = models.PositiveIntegerField(
        _("threshold"),
        default=0,
        help_text=_("Qualifying growth value that reaches this tier. The lowest tier has 0."),
    )
    retention = models.PositiveIntegerField(
        _("retention"),
        null=True,
        blank=True,
        help_text=_(
            "Qualifying growth value that keeps this tier at its review; empty: the threshold."
        ),
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A label on members used for targeting (新客, 沉睡客, 高价值客 …)."""

    code = models.SlugField(_("code"), max_length=64, unique=True, allow_unicode=True)
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """An end customer of the brand, identified by the partner's `external_id`.

    Phone and e-mail are personal data: stored only sealed (riskcontrol.crypto) with a
    blind index for exact lookups, never in clear.
    """

    class LifecycleStage(models.TextChoices):
        NEW = "new", _("new")
        GROWING = "growing", _("growing")
        LOYAL = "loyal", _("loyal")
        DORMANT = "dormant", _("dormant")

    external_id = models.CharField(
        _("external id"), max_length=64, unique=True, validators=[validate_identifier]
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    phone_sealed = models.BinaryField(null=True, editable=False)
    phone_index = models.BinaryField(max_length=32, null=True, editable=False, db_index=True)
    email_sealed = models.BinaryField(null=True, editable=False)
    email_index = models.BinaryField(max_length=32, null=True, editable=False, db_index=True)
    pii_key_id = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("tier"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="members", verbose_name=_("tags"))
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=16,
        choices=LifecycleStage.choices,
        default=LifecycleStage.NEW,
    )
    points = models.IntegerField(
        _("points"),
        default=0,
        help_text=_(
            "Summary of the points ledger (pending points included); changed only under "
            "the member's row lock."
        ),
    )
    growth_value = models.IntegerField(
        _("growth value"), default=0, help_text=_("Summary of all growth entries.")
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    tier_held_until = models.DateTimeField(
        _("tier held until"),
        null=True,
        blank=True,
        help_text=_("The tier is not reviewed for a downgrade before this time."),
    )
    tier_manual_until = models.DateTimeField(
        _("manual tier until"),
        null=True,
        blank=True,
        help_text=_("Set when an operator chose the tier by hand: it holds until then."),
    )
    last_event_at = models.DateTimeField(_("last event at"), null=True, blank=True)
    region = models.CharField(
        _("region"),
        max_length=6,
        blank=True,
        help_text=_("Province code (GB/T 2260, e.g. 310000 for Shanghai)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(points__gte=0), name="member_points_gte_0"),
            models.CheckConstraint(
                condition=models.Q(growth_value__gte=0), name="member_growth_value_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(phone_sealed__isnull=True, phone_index__isnull=True)
                | models.Q(phone_sealed__isnull=False, phone_index__isnull=False),
                name="member_phone_sealed_and_indexed",
            ),
            models.CheckConstraint(
                condition=models.Q(email_sealed__isnull=True, email_index__isnull=True)
                | models.Q(email_sealed__isnull=False, email_index__isnull=False),
                name="member_email_sealed_and_indexed",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id
