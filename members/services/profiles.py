"""Member writes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import ValidationFailed
from riskcontrol.core.text import IDENTIFIER_MESSAGE, is_identifier_safe
from riskcontrol.crypto import codec

from .. import pii
from ..models import Member, Tag, Tier
from ..regions import REGION_MESSAGE, is_province_code
from .tiers import member_tier_record_partner


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
_TAG_CODE_RE = re.compile(r"^[-\w]{1,64}$")
"""An argument left out of `member_upsert`: the stored value is kept."""


def _lock_or_create(external_id: str) -> tuple[Member, bool]:
    member = Member.objects.select_for_update().filter(external_id=external_id).first()
    if member is not None:
        return member, False
    try:
        with transaction.atomic():
            return Member.objects.create(external_id=external_id), True
    except IntegrityError:
        # A concurrent upsert created it first; take its row lock and update instead.
        return Member.objects.select_for_update().get(external_id=external_id), False


@transaction.atomic
def member_upsert(
    *,
    external_id: str,
    name: str | None = UNSET,
    phone: str | None = UNSET,
    email: str | None = UNSET,
    birthday: dt.date | None = UNSET,
    tier: str | None = UNSET,
    tags: list[str] | None = UNSET,
    lifecycle_stage: str = UNSET,
    region: str | None = UNSET,
    actor: Actor | None = None,
) -> tuple[Member, bool]:
    """Create or update the member with `external_id` (as docs/partner-api.md says: an argument left
    out keeps the stored value, `None` clears it; `tier` is a tier code, `tags` a list of
    tag codes that replaces the member's tags, unknown tag codes are created;
    `lifecycle_stage` one of `Member.LifecycleStage`; `region` a province code such as
    310000, or None/"" for none).

    Locks the member row (or, for a new member, relies on the unique external_id: a racing
    second create falls back to locking the winner's row). Returns (member, created).
    Writes an audit event with the actor (the system when none is given) naming what
    changed; personal data (name, birthday, phone, e-mail) is recorded as changed, never
    by value.
    """
    external_id = (external_id or "").strip()
    errors: dict[str, list[str]] = {}
    if not external_id:
        errors["external_id"] = [_("This field is required.")]
    elif not is_identifier_safe(external_id):
        errors["external_id"] = [str(IDENTIFIER_MESSAGE)]

    phone_norm = email_norm = None
    if phone not in (UNSET, None, ""):
        try:
            phone_norm = pii.normalise_phone(phone)
        except pii.InvalidContact as error:
            errors["phone"] = [str(error)]
    if email not in (UNSET, None, ""):
        try:
            email_norm = pii.normalise_email(email)
        except pii.InvalidContact as error:
            errors["email"] = [str(error)]
    tier_obj: Tier | None = None
    if tags not in (UNSET, None):
        bad_tags = [code for code in tags if not _TAG_CODE_RE.match(code.strip())]
        if bad_tags:
            errors["tags"] = [
                _("Tag codes are letters, digits, '-' or '_': %(codes)s")
                % {"codes": ", ".join(bad_tags)}
            ]
    if tier not in (UNSET, None, "") and not is_identifier_safe(tier):
        errors["tier"] = [str(IDENTIFIER_MESSAGE)]
    elif tier not in (UNSET, None, ""):
        tier_obj = Tier.objects.filter(code=tier).first()
        if tier_obj is None:
            errors["tier"] = [_("Unknown tier code: %(code)s") % {"code": tier}]
    if lifecycle_stage is not UNSET and lifecycle_stage not in Member.LifecycleStage.values:
        errors["lifecycle_stage"] = [
            _("Unknown lifecycle stage: %(stage)s") % {"stage": lifecycle_stage}
        ]
    if region not in (UNSET, None, "") and not is_province_code(region):
        errors["region"] = [str(REGION_MESSAGE)]
    if errors:
        raise ValidationFailed(errors)

    member, created = _lock_or_create(external_id)
    before = {} if created else _audit_snapshot(member)
    if name is not UNSET:
        member.name = (name or "").strip()
    if birthday is not UNSET:
        member.birthday = birthday
    if tier is not UNSET and member.tier_id != (tier_obj.pk if tier_obj else None):
        # Recorded as a TierChange `partner`; the tier is held like a reached one.
        tier_before = member.tier
        member.tier = tier_obj
        member_tier_record_partner(
            member=member, before=tier_before, now=timezone.now(), actor=actor or Actor.system()
        )
    if lifecycle_stage is not UNSET:
        member.lifecycle_stage = lifecycle_stage
    if region is not UNSET:
        member.region = region or ""
    if phone is not UNSET or email is not UNSET:
        # Both contacts are sealed together under the newest key, so `pii_key_id` says
        # which key every sealed value of this member needs (key rotation relies on it).
        if phone is UNSET:
            phone_norm = (
                pii.unseal(external_id, "phone", member.phone_sealed)
                if member.phone_sealed
                else None
            )
        if email is UNSET:
            email_norm = (
                pii.unseal(external_id, "email", member.email_sealed)
                if member.email_sealed
                else None
            )
        _seal_contacts(member, phone_norm, email_norm)
    member.save()

    if tags is not UNSET:
        member.tags.set(_tags_for_codes(tags or []))
    changes = audit_changes(before, _audit_snapshot(member), private=_PRIVATE_FIELDS)
    if created or changes:
        audit_record(
            subject=member,
            action="create" if created else "update",
            actor=actor or Actor.system(),
            changes=changes,
            label=member.external_id,
        )
    return member, created


_PRIVATE_FIELDS = ("name", "birthday", "phone", "email")


def _audit_snapshot(member: Member) -> dict[str, Any]:
    """What an audit event compares; contacts by blind index (never in clear)."""
    return {
        "name": member.name,
        "birthday": member.birthday,
        "phone": bytes(member.phone_index) if member.phone_index else None,
        "email": bytes(member.email_index) if member.email_index else None,
        "tier": member.tier.code if member.tier_id else None,
        "tags": sorted(member.tags.values_list("code", flat=True)),
        "lifecycle_stage": member.lifecycle_stage,
        "region": member.region,
    }


@transaction.atomic
def member_delete(*, member: Member, actor: Actor) -> None:
    """Delete a member who holds no vouchers (the database refuses otherwise). The audit
    event names the member by external id only."""
    audit_record(subject=member, action="delete", actor=actor, label=member.external_id)
    member.delete()


def _seal_contacts(member: Member, phone: str | None, email: str | None) -> None:
    member.phone_sealed = pii.seal(member.external_id, "phone", phone) if phone else None
    member.phone_index = pii.blind_index("phone", phone) if phone else None
    member.email_sealed = pii.seal(member.external_id, "email", email) if email else None
    member.email_index = pii.blind_index("email", email) if email else None
    member.pii_key_id = codec().current_key_id if (phone or email) else ""


def members_reencrypt(*, chunk_size: int = 1000) -> Iterator[int]:
    """Re-seal members' contacts under the newest key, one short transaction per chunk.
    Yields how many were done per chunk; safe to interrupt and run again."""
    current = codec().current_key_id
    while True:
        with transaction.atomic():
            members = list(
                Member.objects.select_for_update()
                .exclude(pii_key_id__in=["", current])
                .order_by("pk")[:chunk_size]
            )
            for member in members:
                phone = (
                    pii.unseal(member.external_id, "phone", member.phone_sealed)
                    if member.phone_sealed
                    else None
                )
                email = (
                    pii.unseal(member.external_id, "email", member.email_sealed)
                    if member.email_sealed
                    else None
                )
                _seal_contacts(member, phone, email)
            Member.objects.bulk_update(
                members,
                ["phone_sealed", "phone_index", "email_sealed", "email_index", "pii_key_id"],
            )
        if not members:
            return
        yield len(members)


def _tags_for_codes(codes: list[str]) -> list[Tag]:
    wanted = list(dict.fromkeys(code.strip() for code in codes if code and code.strip()))
    existing = {tag.code: tag for tag in Tag.objects.filter(code__in=wanted)}
    missing = [Tag(code=code, name=code) for code in wanted if code not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.code: tag for tag in Tag.objects.filter(code__in=wanted)}
    return [existing[code] for code in wanted]
