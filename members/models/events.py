from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from riskcontrol.core.stamped import PartnerActorStamped

from .core import Member


class MemberEvent(PartnerActorStamped):
    """Something a member did, as a partner system (or the console) told us: append-only.

    `event_id` is the sender's own id: unique per partner client, so a repeat of the same
    event is recognised and changes nothing. `effects` records what the earning rules gave
    (points, growth, tier before and after), written in the event's own transaction.
    """

    class Kind(models.TextChoices):
        REGISTERED = "registered", _("registered")
        LOGIN = "login", _("login")
        CHECK_IN = "check_in", _("check-in")
        PURCHASE = "purchase", _("purchase")
        REFUND = "refund", _("refund")
        INVITE_ACCEPTED = "invite_accepted", _("invite accepted")
        CART_ABANDONED = "cart_abandoned", _("cart abandoned")
        PROFILE_UPDATED = "profile_updated", _("profile updated")
        # plus "custom.<name>", which has no fixed label

    # The member, client and user columns carry no index of their own: the composite
    # indexes below start with member and with partner_client, and an operator's events
    # are never looked up by user (each index is one more write per event).
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("member"),
        db_index=False,
    )
    partner_client = models.ForeignKey(
        "riskcontrol.PartnerClient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner client"),
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
    event_id = models.CharField(_("event id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    effects = models.JSONField(_("effects"), default=dict, blank=True)

    class Meta:
        verbose_name = _("member event")
        verbose_name_plural = _("member events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # One event per sender and event id; console and system events have no
            # partner client and share one namespace (NULLS NOT DISTINCT, PostgreSQL 15+).
            models.UniqueConstraint(
                fields=["partner_client", "event_id"],
                name="member_event_unique_per_client",
                nulls_distinct=False,
            ),
            # A purchase's order reference names it for its refunds.
            models.UniqueConstraint(
                fields=["member", "order_ref"],
                condition=models.Q(kind="purchase"),
                name="member_event_one_purchase_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "occurred_at"], name="member_event_member_time"),
            models.Index(fields=["kind", "occurred_at"], name="member_event_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label(self.kind)} {self.event_id}"

    @classmethod
    def kind_label(cls, kind: str) -> str:
        """A kind by its (translated) name; `custom.<name>` kinds show as sent."""
        return str(cls.Kind(kind).label) if kind in cls.Kind.values else kind
