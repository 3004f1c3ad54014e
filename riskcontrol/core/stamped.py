"""The who-did-it columns that every append-only event table repeats: the actor's kind
and label, the operator (if any), the request context and the time. Abstract models, so
each table keeps its own columns (no schema change). Write the columns from an `Actor`
with `Model.actor_stamp(actor)`:
`VoucherEvent.objects.create(voucher=…, **VoucherEvent.actor_stamp(actor))`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .actors import Actor

# The system's own actors (`Actor.system(label)`), as people read them; other labels (a
# username, a partner's name) are shown as they are.
SYSTEM_ACTOR_LABELS = {
    "system": _("system"),
    "generation": _("code generation"),
    "expiry": _("expiry"),
    "job sweeper": _("job sweeper"),
    "card-stock import": _("card-stock import"),
    "upload cleanup": _("upload cleanup"),
    "create_batch": _("command line"),
    "seed_demo": _("demo data"),
}
ACTOR_KINDS = {"user": _("operator"), "partner": _("partner client"), "system": _("system")}


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

    @property
    def actor_display(self) -> str:
        """The actor for people: a system actor by its translated name."""
        if self.actor_kind == "system":
            return str(SYSTEM_ACTOR_LABELS.get(self.actor_label, self.actor_label))
        return self.actor_label

    @classmethod
    def actor_stamp(cls, actor: Actor, *, extra: dict | None = None) -> dict[str, Any]:
        """The stamp columns for a row written by `actor`; `extra` joins the context."""
        return {
            "actor_kind": actor.kind,
            "actor_label": actor.label[:150],
            "user_id": actor.user_id,
            "context": {**actor.context(), **(extra or {})},
        }


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

    @classmethod
    def actor_stamp(cls, actor: Actor, *, extra: dict | None = None) -> dict[str, Any]:
        return {
            **super().actor_stamp(actor, extra=extra),
            "partner_client_id": actor.partner_client_id,
        }
