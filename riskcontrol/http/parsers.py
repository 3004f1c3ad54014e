"""The partner API's JSON parser: bounded in size and in nesting depth.

DRF's own parser reads whatever arrives and lets `json` recurse until the interpreter's
stack gives out (a RecursionError became a 500). This one reads at most
`DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (more answers 413 `payload_too_large`, also for a
chunked body without a Content-Length) and refuses JSON nested deeper than
`API_JSON_MAX_DEPTH` with 400 `parse_error`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from ..core.errors import PayloadTooLarge, payload_limit_text


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((inner, depth + 1) for inner in item)
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(payload_limit_text(limit))
        encoding = get_encoding(parser_context or {})
        try:
            text = raw.decode(encoding)
            data = json.loads(text)  # strict: NaN and Infinity are refused
        except RecursionError:
            raise ParseError(_("The JSON is nested too deeply.")) from None
        except ValueError:
            raise ParseError(_("The body is not valid JSON.")) from None
        if json_depth(data) > settings.API_JSON_MAX_DEPTH:
            raise ParseError(_("The JSON is nested too deeply."))
        return data
