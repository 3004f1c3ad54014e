"""Text from outside (paths, bodies, forms): which characters an identifier or a free-text
field may hold.

Identifiers (external ids, codes of batches, stores, tiers and tags, serials, channels,
order references) refuse control characters and the invisible bidirectional marks and
overrides that make one identifier look like another. Free text (names, reasons) refuses
control characters except tab and line breaks: PostgreSQL cannot store NUL at all.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 controls except tab and line breaks, DEL and the C1 controls.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Left-to-right/right-to-left marks, embeddings, overrides and isolates.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"

_IDENTIFIER_FORBIDDEN = re.compile(f"[\t\n\r{_CONTROL}{_BIDI}]")
_FREE_TEXT_FORBIDDEN = re.compile(f"[{_CONTROL}]")

IDENTIFIER_MESSAGE = _("Must not contain control characters or invisible direction marks.")
FREE_TEXT_MESSAGE = _("Must not contain control characters.")
LENGTH_MESSAGE = _("At most %(n)d characters.")


def is_identifier_safe(value: str) -> bool:
    return _IDENTIFIER_FORBIDDEN.search(value) is None


def is_free_text_safe(value: str) -> bool:
    return _FREE_TEXT_FORBIDDEN.search(value) is None


def validate_identifier(value: Any) -> None:
    """A Django validator (forms, serializers)."""
    if isinstance(value, str) and not is_identifier_safe(value):
        raise ValidationError(IDENTIFIER_MESSAGE, code="invalid_characters")


def validate_free_text(value: Any) -> None:
    if isinstance(value, str) and not is_free_text_safe(value):
        raise ValidationError(FREE_TEXT_MESSAGE, code="invalid_characters")


def text_field_errors(
    *,
    identifiers: dict[str, str] | None = None,
    free_text: dict[str, str] | None = None,
    max_lengths: dict[str, int] | None = None,
) -> dict[str, list[str]]:
    """Messages per field for a service's `ValidationFailed`: identifiers that hold
    control characters or direction marks, free text that holds control characters,
    values longer than their column. Empty when everything is fine."""
    errors: dict[str, list[str]] = {}
    for field, longest in (max_lengths or {}).items():
        value = {**(identifiers or {}), **(free_text or {})}.get(field) or ""
        if len(value) > longest:
            errors[field] = [str(LENGTH_MESSAGE % {"n": longest})]
    for field, value in (identifiers or {}).items():
        if field not in errors and isinstance(value, str) and not is_identifier_safe(value):
            errors[field] = [str(IDENTIFIER_MESSAGE)]
    for field, value in (free_text or {}).items():
        if field not in errors and isinstance(value, str) and not is_free_text_safe(value):
            errors[field] = [str(FREE_TEXT_MESSAGE)]
    return errors


def json_text_problem(value: Any) -> str | None:
    """The first key or string inside a JSON value that PostgreSQL's jsonb or a reader
    would trip over, as a message; None when all are clean. Iterative over lists and
    dicts, so a deep value cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and not is_identifier_safe(key):
                    return str(IDENTIFIER_MESSAGE)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not is_free_text_safe(item):
            return str(FREE_TEXT_MESSAGE)
    return None


class IdentifierConverter:
    """`<ident:name>` in a URL pattern: one path segment without control characters or
    direction marks. Anything else does not match, so it answers 404 like any unknown
    resource instead of reaching the database."""

    regex = f"[^/\t\n\r{_CONTROL}{_BIDI}]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
