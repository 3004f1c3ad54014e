from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from .core.stamped import PartnerActorStamped


class PartnerClient(models.Model):
    """An external system (CRM, app back end, POS, ERP) that calls the partner API."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    store_code = models.CharField(
        _("store code"),
        max_length=32,
        blank=True,
        help_text=_("If set, this client can redeem only at this store."),
    )
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("partner client")
        verbose_name_plural = _("partner clients")
        ordering = ["name"]
        permissions = [("issue_partner_key", _("Can issue and revoke partner API keys"))]

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class PartnerClientKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("client")


class PartnerClientKey(AbstractAPIKey):
    """A hashed API key of a partner client; a client may hold several while rotating."""

    objects = PartnerClientKeyManager()

    client = models.ForeignKey(
        PartnerClient, on_delete=models.CASCADE, related_name="keys", verbose_name=_("client")
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("partner API key")
        verbose_name_plural = _("partner API keys")


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` of one client: the request's fingerprint and, once it has
    finished, its response (encrypted: a claim response carries a code)."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        COMPLETED = "completed", _("completed")

    client = models.ForeignKey(
        PartnerClient, on_delete=models.CASCADE, related_name="+", verbose_name=_("client")
    )
    key = models.CharField(_("key"), max_length=255)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(null=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_client_key_uniq"),
            models.CheckConstraint(
                condition=models.Q(state="in_progress")
                | models.Q(response_status__isnull=False, response_body__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"


class GuessCounter(models.Model):
    """A fixed-window counter (`riskcontrol.rules.counters`) kept in the database when no Redis
    is configured, or while Redis is down or hung: failed lookups (unknown codes, bad
    tokens) per clerk, client or store, and API throttle counts. Updated in its own short
    transaction, outside the failing one."""

    key = models.CharField(max_length=100, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("guess counter")
        verbose_name_plural = _("guess counters")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class AuditEvent(PartnerActorStamped):
    """Append-only record of a console or API change to a record that has no history of
    its own (members, stores, staff, redemption rules, partner clients). Vouchers and
    batches keep their own event tables. `changes` names the fields that changed, with
    old and new values only for fields that are not personal data or secrets."""

    subject = models.CharField(_("subject"), max_length=64)  # "<app_label>.<model>"
    subject_id = models.CharField(_("subject id"), max_length=64)
    subject_label = models.CharField(_("record"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=32)
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject", "subject_id", "created_at"], name="audit_subject_idx")
        ]

    ACTION_LABELS = {
        "create": _("created"),
        "update": _("changed"),
        "delete": _("deleted"),
        "issue_key": _("API key issued"),
        "revoke_keys": _("API keys revoked"),
        "read_address": _("address read"),
    }

    def __str__(self) -> str:
        return f"{self.action_label} {self.subject_name} {self.subject_label or self.subject_id}"

    @property
    def action_label(self) -> str:
        return str(self.ACTION_LABELS.get(self.action, self.action))

    @property
    def subject_name(self) -> str:
        """ "members.member" -> the model's name in the reader's language."""
        try:
            return str(apps.get_model(self.subject)._meta.verbose_name)
        except (LookupError, ValueError):
            return self.subject


class RiskAlert(models.Model):
    """Something the operators should look at (a store-wide burst of guessed codes …).
    Append-only; shown in the console. Never holds a code."""

    class Kind(models.TextChoices):
        GUESSING_BURST = "guessing_burst", _("guessing burst at a store")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=100)
    detail = models.CharField(_("detail"), max_length=255)
    count = models.PositiveIntegerField(_("count"), default=0)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("risk alert")
        verbose_name_plural = _("risk alerts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"
