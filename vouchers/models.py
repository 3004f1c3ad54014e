from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from riskcontrol.core.stamped import ActorStamped, PartnerActorStamped


class VoucherBatch(models.Model):
    """A set of vouchers created together, with one value and one set of rules."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("coupon")
        CARD_SECRET = "card_secret", _("card secret")

    class ValueType(models.TextChoices):
        CASH = "cash", _("cash amount off")
        PERCENT = "percent", _("percent off")
        THRESHOLD = "threshold", _("spend X, save Y")
        GIFT = "gift", _("gift")

    class CodeFormat(models.TextChoices):
        CROCKFORD = "crockford", _("generated (Crockford base32)")
        EXACT = "exact", _("exact (third-party codes)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        CLOSED = "closed", _("closed")

    class Source(models.TextChoices):
        GENERATED = "generated", _("generated")
        IMPORTED = "imported", _("imported")

    class Generation(models.TextChoices):
        NONE = "none", _("not generated")
        PENDING = "pending", _("waiting for a worker")
        RUNNING = "running", _("generating")
        DONE = "done", _("done")

    code = models.SlugField(
        _("code"), max_length=32, unique=True, help_text=_("Letters, digits, '-' or '_'; in URLs.")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.COUPON)
    value_type = models.CharField(
        _("value type"), max_length=16, choices=ValueType.choices, default=ValueType.CASH
    )
    face_value = models.DecimalField(
        _("face value"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    percent_off = models.DecimalField(
        _("percent off"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_discount = models.DecimalField(
        _("maximum discount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_order_amount = models.DecimalField(
        _("minimum order amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid days after claim"), null=True, blank=True)
    per_member_limit = models.PositiveIntegerField(
        _("per-member limit"),
        null=True,
        blank=True,
        default=1,
        help_text=_("How many vouchers of this batch one member may hold; empty = no limit."),
    )
    allow_unclaimed_redemption = models.BooleanField(
        _("redeemable without claiming"),
        default=False,
        help_text=_("Printed or distributed codes that nobody claimed may be redeemed."),
    )
    code_format = models.CharField(
        _("code format"), max_length=16, choices=CodeFormat.choices, default=CodeFormat.CROCKFORD
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, default=Source.GENERATED
    )
    quantity = models.PositiveIntegerField(
        _("quantity"), default=0, help_text=_("Vouchers to generate (generated batches).")
    )
    generation = models.CharField(
        _("generation"), max_length=16, choices=Generation.choices, default=Generation.NONE
    )
    generated_count = models.PositiveIntegerField(_("generated"), default=0)
    frozen = models.BooleanField(
        _("frozen"),
        default=False,
        help_text=_("A frozen batch takes no claims; its vouchers are frozen too."),
    )
    activate_when_generated = models.BooleanField(
        _("activate when generated"),
        default=False,
        help_text=_("Open the batch for claims as soon as all its vouchers exist."),
    )
    cost_per_voucher = models.DecimalField(
        _("cost per voucher"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    region = models.CharField(_("region"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("voucher batch")
        verbose_name_plural = _("voucher batches")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(face_value__gte=0), name="batch_face_value_gte_0"),
            models.CheckConstraint(
                condition=~Q(value_type="cash") | Q(face_value__gt=0, percent_off__isnull=True),
                name="batch_cash_has_face_value",
            ),
            models.CheckConstraint(
                condition=~Q(value_type="percent")
                | Q(percent_off__isnull=False, percent_off__gt=0, percent_off__lt=100),
                name="batch_percent_between_0_and_100",
            ),
            models.CheckConstraint(
                condition=~Q(value_type="threshold")
                | Q(
                    face_value__gt=0,
                    min_order_amount__isnull=False,
                    min_order_amount__gte=models.F("face_value"),
                    percent_off__isnull=True,
                ),
                name="batch_threshold_minimum_covers_discount",
            ),
            models.CheckConstraint(
                condition=Q(max_discount__isnull=True)
                | Q(value_type="percent", max_discount__gt=0),
                name="batch_max_discount_only_for_percent",
            ),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=True) | Q(valid_days__gt=0),
                name="batch_valid_days_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lt=models.F("valid_until")),
                name="batch_valid_from_before_until",
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gt=0),
                name="batch_per_member_limit_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(generated_count__lte=models.F("quantity")) | Q(source="imported"),
                name="batch_generated_lte_quantity",
            ),
        ]
        permissions = [
            ("reveal_secret", _("Can reveal voucher codes")),
            ("export_secrets", _("Can export voucher codes")),
            ("change_batch_status", _("Can pause, resume, close, freeze and void batches")),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def is_claimable_at(self, now: dt.datetime) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and not self.frozen
            and (self.valid_from is None or self.valid_from <= now)
            and (self.valid_until is None or now < self.valid_until)
        )

    def expiry_for_claim_at(self, claimed_at: dt.datetime) -> dt.datetime | None:
        """N days from the claim, never past the batch's end; else the batch's end."""
        if self.valid_days:
            expiry = claimed_at + dt.timedelta(days=self.valid_days)
            return min(expiry, self.valid_until) if self.valid_until else expiry
        return self.valid_until

    @property
    def serial_width(self) -> int:
        return max(6, len(str(self.quantity or 0)))


class Voucher(models.Model):
    """One single-use carrier of value: a public serial and a secret code (sealed)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        CLAIMED = "claimed", _("claimed")
        REDEEMED = "redeemed", _("redeemed")
        FROZEN = "frozen", _("frozen")
        EXPIRED = "expired", _("expired")
        VOID = "void", _("void")

    batch = models.ForeignKey(
        VoucherBatch, on_delete=models.PROTECT, related_name="vouchers", verbose_name=_("batch")
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    serial = models.CharField(_("serial"), max_length=64, unique=True)
    supplier_serial = models.CharField(_("supplier serial"), max_length=128, blank=True)
    secret_ciphertext = models.BinaryField(editable=False)
    secret_index = models.BinaryField(max_length=32, unique=True, editable=False)
    key_id = models.CharField(max_length=32, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE
    )
    frozen_from = models.CharField(
        _("status before freezing"), max_length=16, choices=Status.choices, blank=True
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vouchers",
        verbose_name=_("member"),
    )
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    trace = models.JSONField(_("trace"), default=dict, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    face_value = models.DecimalField(
        _("face value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, null=True, blank=True)
    region = models.CharField(_("region"), max_length=64, blank=True)
    import_job = models.ForeignKey(
        "vouchers.CardStockImport",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vouchers",
        verbose_name=_("card-stock import"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        permissions = [
            ("freeze_voucher", _("Can freeze and unfreeze vouchers")),
            ("void_voucher", _("Can void vouchers")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "sequence"], name="voucher_batch_sequence_uniq"
            ),
            models.UniqueConstraint(
                fields=["batch", "supplier_serial"],
                condition=~Q(supplier_serial=""),
                name="voucher_batch_supplier_serial_uniq",
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(member__isnull=False, claimed_at__isnull=False),
                name="voucher_claimed_has_member",
            ),
            # A redeemed voucher has its member, unless it was a printed code redeemed
            # without ever being claimed (batches that allow unclaimed redemption).
            models.CheckConstraint(
                condition=~Q(status="redeemed")
                | Q(member__isnull=False)
                | Q(claimed_at__isnull=True),
                name="voucher_redeemed_claimed_has_member",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=True) | Q(claimed_at__isnull=False),
                name="voucher_member_has_claimed_at",
            ),
            models.CheckConstraint(
                condition=Q(status="frozen") | Q(frozen_from=""),
                name="voucher_frozen_from_only_when_frozen",
            ),
        ]
        indexes = [
            # Serves the claim query: the next available voucher of a batch, by sequence.
            models.Index(
                fields=["batch", "sequence"],
                condition=Q(status="available"),
                name="voucher_available_idx",
            ),
            models.Index(fields=["batch", "status"], name="voucher_batch_status_idx"),
            # Serves the expiry task: live vouchers by expiry time.
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["available", "claimed"]),
                name="voucher_live_expiry_idx",
            ),
            models.Index(fields=["member", "batch"], name="voucher_member_batch_idx"),
        ]

    def __str__(self) -> str:
        return self.serial


class CardStockImport(models.Model):
    """One file of wholesale card stock imported into a batch. Its vouchers point back to
    it, so a compromised file can be voided in one action."""

    class Status(models.TextChoices):
        VALIDATING = "validating", _("validating")
        VALIDATED = "validated", _("validated, waiting for confirmation")
        IMPORTING = "importing", _("importing")
        IMPORTED = "imported", _("imported")
        FAILED = "failed", _("failed")
        ABANDONED = "abandoned", _("abandoned")

    batch = models.ForeignKey(
        VoucherBatch, on_delete=models.PROTECT, related_name="imports", verbose_name=_("batch")
    )
    file_name = models.CharField(_("file name"), max_length=255)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.VALIDATING
    )
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_imported = models.PositiveIntegerField(_("imported"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected"), default=0)
    upload_id = models.CharField(max_length=64, blank=True, editable=False)
    skip_rejected = models.BooleanField(_("skip rejected rows"), default=False)
    report = models.JSONField(_("report"), default=dict, blank=True, editable=False)
    error = models.CharField(_("error"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("card-stock import")
        verbose_name_plural = _("card-stock imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.batch.code}"


class CardStockImportEvent(ActorStamped):
    """Append-only history of a card-stock import: who uploaded, confirmed or abandoned
    it, and how it ended (with the reason when it failed)."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", pgettext_lazy("card-stock import", "uploaded")
        CHECKED = "checked", pgettext_lazy("card-stock import", "checked")
        CONFIRMED = "confirmed", pgettext_lazy("card-stock import", "confirmed")
        IMPORTED = "imported", _("imported")
        FAILED = "failed", _("failed")
        ABANDONED = "abandoned", _("abandoned")

    job = models.ForeignKey(
        CardStockImport,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("card-stock import"),
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("card-stock import event")
        verbose_name_plural = _("card-stock import events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.created_at:%Y-%m-%d %H:%M}"


class BatchEvent(ActorStamped):
    """Append-only history of a batch's own changes (pause, resume, close, freeze …)."""

    batch = models.ForeignKey(
        VoucherBatch, on_delete=models.PROTECT, related_name="batch_events", verbose_name=_("batch")
    )
    action = models.CharField(_("action"), max_length=32)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("batch event")
        verbose_name_plural = _("batch events")
        ordering = ["-created_at", "-id"]

    # What people read for the actions and the system-written details (stored as codes).
    ACTION_LABELS = {
        "create": _("created"),
        "activate": _("opened for claims"),
        "pause": _("paused"),
        "resume": _("resumed"),
        "close": _("closed"),
        "freeze": _("frozen"),
        "unfreeze": _("unfrozen"),
        "void": _("voided"),
        "void_import": _("import voided"),
        "update": _("settings changed"),
        "export_codes": _("codes exported"),
    }
    DETAIL_LABELS = {
        "all vouchers generated": _("all vouchers generated"),
        "validity ended": _("validity ended"),
    }

    def __str__(self) -> str:
        return f"{self.action_label} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def action_label(self) -> str:
        return str(self.ACTION_LABELS.get(self.action, self.action))

    @property
    def detail_label(self) -> str:
        """The detail as written by a person (a reason), or the system's, translated: a
        status code, a known phrase, or the changed fields' names."""
        if self.detail in VoucherBatch.Status.values:
            return str(VoucherBatch.Status(self.detail).label)
        if self.detail in self.DETAIL_LABELS:
            return str(self.DETAIL_LABELS[self.detail])
        if self.action == "update":
            names = [name.strip() for name in self.detail.split(",")]
            fields = {
                f.name: f for f in VoucherBatch._meta.get_fields() if hasattr(f, "verbose_name")
            }
            if all(name in fields for name in names):
                return "、".join(str(fields[name].verbose_name) for name in names)
        return self.detail


class VoucherEvent(PartnerActorStamped):
    """Append-only history of one voucher: every transition and every reveal."""

    class Action(models.TextChoices):
        CLAIM = "claim", _("claimed")
        REVEAL = "reveal", _("code revealed")
        REDEEM = "redeem", _("redeemed")
        REVERSE = "reverse", _("redemption reversed")
        FREEZE = "freeze", _("frozen")
        UNFREEZE = "unfreeze", _("unfrozen")
        VOID = "void", _("voided")
        EXPIRE = "expire", _("expired")

    voucher = models.ForeignKey(
        Voucher, on_delete=models.PROTECT, related_name="events", verbose_name=_("voucher")
    )
    batch = models.ForeignKey(
        VoucherBatch, on_delete=models.PROTECT, related_name="events", verbose_name=_("batch")
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16, blank=True)
    channel = models.CharField(_("channel"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("voucher event")
        verbose_name_plural = _("voucher events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["voucher", "created_at"], name="voucher_event_voucher_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.created_at:%Y-%m-%d %H:%M}"


class JobWatch(models.Model):
    """What the stale-job sweeper last saw of one long job (a batch's generation, a
    card-stock import): its progress and since when it has not moved. The sweeper
    resumes a job at most once per stale period by a conditional update of this row."""

    class Kind(models.TextChoices):
        GENERATION = "generation", _("code generation")
        CARD_STOCK_IMPORT = "card_stock_import", _("card-stock import")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField(_("object id"))
    progress = models.CharField(_("progress"), max_length=100)
    seen_at = models.DateTimeField(_("progress seen at"))
    resumed = models.PositiveIntegerField(_("times resumed"), default=0)

    class Meta:
        verbose_name = _("job watch")
        verbose_name_plural = _("job watches")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="job_watch_kind_object_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.progress}"
