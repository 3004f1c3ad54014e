"""A member's region: a province-level code of GB/T 2260 (6 digits ending in 0000,
e.g. 310000 Shanghai, 440000 Guangdong). Used by the API, the console, the member
service and segment conditions."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PROVINCE_CODE = re.compile(r"^[1-9][0-9]0000$")
REGION_MESSAGE = _("Not a province code: give 6 digits ending in 0000, e.g. 310000 for Shanghai.")


def is_province_code(value: Any) -> bool:
    return isinstance(value, str) and PROVINCE_CODE.match(value) is not None


def validate_province_code(value: Any) -> None:
    """A Django validator (forms, serializers); empty values are for `blank` to judge."""
    if value not in (None, "") and not is_province_code(value):
        raise ValidationError(REGION_MESSAGE, code="region")
