"""The who-did-it columns that every append-only event table repeats: the actor's kind
and label, the operator (if any), the request context and the time. Abstract models, so
each table keeps its own columns (no schema change); set the values from an `Actor`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorStamped(models.Model):
    """Who did it and when: `actor_kind`, `actor_label`, `user`, `context`, `created_at`."""

    actor_kind = models.CharField(_("actor kind"), max_length=16)
    actor_label = models.CharField(_("actor"), max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        abstract = True


class PartnerActorStamped(ActorStamped):
    """`ActorStamped` plus the partner client, for tables the partner API also writes."""

    partner_client = models.ForeignKey(
        "riskcontrol.PartnerClient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner client"),
    )

    class Meta:
        abstract = True
