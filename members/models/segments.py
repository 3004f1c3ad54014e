from django.db import models
from django.utils.translation import gettext_lazy as _

from .core import Tag


class Segment(models.Model):
    """A saved condition over members (tier, stage, tags, points range, purchases in the
    last N days, last event before/after, birthday month, region) that compiles to one
    query (`members.services.segments`). It can tag its members, by hand or on a
    schedule."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    tag = models.ForeignKey(
        Tag,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tag its members with"),
    )
    tag_on_schedule = models.BooleanField(
        _("tag every night"),
        default=False,
        help_text=_("Tag the segment's members every night (members who left keep the tag)."),
    )
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    last_tagged_at = models.DateTimeField(_("last tagged at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name
