"""Member import/export (django-import-export). Imports go through `member_upsert`, so
phones and e-mails are sealed exactly as the API does it; exports show them masked."""

from django.utils.translation import pgettext_lazy
from import_export import fields, resources

from riskcontrol.console.exports import LabelledExport
from riskcontrol.core.actors import Actor
from riskcontrol.core.spreadsheets import SpreadsheetSafeExport

from . import selectors
from .models import Member
from .services import UNSET, member_upsert


class MemberResource(LabelledExport, SpreadsheetSafeExport, resources.ModelResource):
    export_labels = {
        "external_id": pgettext_lazy("export column", "external_id"),
        "name": pgettext_lazy("export column", "name"),
        "phone": pgettext_lazy("export column", "phone"),
        "email": pgettext_lazy("export column", "email"),
        "birthday": pgettext_lazy("export column", "birthday"),
        "tier": pgettext_lazy("export column", "tier"),
        "tags": pgettext_lazy("export column", "tags"),
        "lifecycle_stage": pgettext_lazy("export column", "lifecycle_stage"),
        "points": pgettext_lazy("export column", "points"),
    }
    phone = fields.Field(column_name="phone")
    email = fields.Field(column_name="email")
    tier = fields.Field(column_name="tier")
    tags = fields.Field(column_name="tags")

    class Meta:
        model = Member
        fields = (
            "external_id",
            "name",
            "phone",
            "email",
            "birthday",
            "tier",
            "tags",
            "lifecycle_stage",
            "points",
        )
        export_order = fields
        import_id_fields = ("external_id",)
        skip_unchanged = False

    # --- export: personal data masked ---
    def dehydrate_phone(self, member: Member) -> str:
        return selectors.member_phone_masked(member) or ""

    def dehydrate_email(self, member: Member) -> str:
        return selectors.member_email_masked(member) or ""

    def dehydrate_tier(self, member: Member) -> str:
        return member.tier.code if member.tier_id else ""

    def dehydrate_tags(self, member: Member) -> str:
        return ",".join(sorted(tag.code for tag in member.tags.all()))

    # --- import: through the service ---
    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        instance._import_row = row
        user = kwargs.get("user")
        instance._import_actor = Actor.for_user(user) if user is not None else None

    def do_instance_save(self, instance, is_create):
        row = instance._import_row

        def cell(name):
            value = row.get(name)
            return UNSET if value is None else (str(value).strip() or None)

        tags = cell("tags")
        birthday = cell("birthday")
        stage = cell("lifecycle_stage")
        member, _created = member_upsert(
            external_id=str(row.get("external_id") or "").strip(),
            name=cell("name"),
            phone=cell("phone"),
            email=cell("email"),
            birthday=birthday if birthday in (UNSET, None) else instance.birthday,
            tier=cell("tier"),
            lifecycle_stage=UNSET if stage in (UNSET, None) else stage,
            tags=UNSET
            if tags is UNSET
            else [t for t in (tags or "").replace("，", ",").split(",") if t.strip()],
            actor=instance._import_actor,
        )
        instance.pk = member.pk

    def save_m2m(self, instance, row, **kwargs):
        pass  # tags were set by member_upsert
