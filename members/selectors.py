"""Member reads shared by the API, the admin and other apps."""

from __future__ import annotations

import contextlib

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound

from . import pii
from .models import Member


def member_get(*, external_id: str) -> Member:
    member = (
        Member.objects.select_related("tier")
        .prefetch_related("tags")
        .filter(external_id=external_id)
        .first()
    )
    if member is None:
        raise NotFound(_("No member with this external id."))
    return member


def member_phone(member: Member) -> str | None:
    if member.phone_sealed is None:
        return None
    return pii.unseal(member.external_id, "phone", member.phone_sealed)


def member_email(member: Member) -> str | None:
    if member.email_sealed is None:
        return None
    return pii.unseal(member.external_id, "email", member.email_sealed)


def member_phone_masked(member: Member) -> str | None:
    phone = member_phone(member)
    return pii.mask_phone(phone) if phone else None


def member_email_masked(member: Member) -> str | None:
    email = member_email(member)
    return pii.mask_email(email) if email else None


def members_by_contact(term: str) -> QuerySet[Member]:
    """Members whose phone or e-mail is exactly `term` (via the blind indexes)."""
    condition = Q(pk__in=[])
    with contextlib.suppress(pii.InvalidContact):
        condition |= Q(phone_index=pii.blind_index("phone", pii.normalise_phone(term)))
    with contextlib.suppress(pii.InvalidContact):
        condition |= Q(email_index=pii.blind_index("email", pii.normalise_email(term)))
    return Member.objects.filter(condition)


def members_under_older_keys(*, key_id: str) -> int:
    """Members whose contacts are sealed under a key other than `key_id` (key rotation)."""
    return Member.objects.exclude(pii_key_id__in=["", key_id]).count()
