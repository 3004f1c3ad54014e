"""Members' personal data (PIPL): phone and e-mail, normalised, sealed, masked.

The normalised value is what is encrypted and indexed, so "138 1234 5678", "+86
13812345678" and "13812345678" are one phone number to every lookup.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from riskcontrol.crypto import codec

_PHONE_SEPARATORS_RE = re.compile(r"[\s\-().]")
_PHONE_RE = re.compile(r"^\+?\d{6,15}$")
_CN_MOBILE_RE = re.compile(r"^(?:\+86|0086|86)?(1\d{10})$")


class InvalidContact(ValueError):
    pass


def normalise_phone(raw: str) -> str:
    """Mainland mobiles become their 11 digits; other numbers keep their digits and a
    leading `+`. Raises InvalidContact for anything that is not a phone number."""
    compact = _PHONE_SEPARATORS_RE.sub("", raw.strip())
    mainland = _CN_MOBILE_RE.match(compact)
    if mainland:
        return mainland.group(1)
    if not _PHONE_RE.match(compact):
        raise InvalidContact(_("Enter a phone number of 6 to 15 digits."))
    return compact


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidContact(_("Enter a valid e-mail address.")) from None
    return value


def mask_phone(phone: str) -> str:
    if len(phone) >= 11:
        return f"{phone[:3]}****{phone[-4:]}"
    return f"{phone[:2]}***{phone[-2:]}"


def mask_email(email: str) -> str:
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _aad(external_id: str, field: str) -> bytes:
    return f"member:{external_id}:{field}".encode()


def seal(external_id: str, field: str, normalised: str) -> bytes:
    return codec().encrypt(normalised, aad=_aad(external_id, field))


def unseal(external_id: str, field: str, sealed: bytes) -> str:
    return codec().decrypt(sealed, aad=_aad(external_id, field))


def blind_index(field: str, normalised: str) -> bytes:
    return codec().blind_index(normalised, purpose=f"member.{field}")
