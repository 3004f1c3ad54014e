"""Event context and claim traces as people read them: one "label: value" row per key,
with translated labels for the keys our services write, and voucher statuses by their
names. Used by the voucher page (its trace, its event history) and the batch page."""

from __future__ import annotations

import json

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..models import Voucher

# The keys vouchers' and redemption's services write into an event's context (and
# the usual keys of a claim trace); any other key is shown as it was written.
CONTEXT_LABELS = {
    "reason": _("reason"),
    "request_id": _("request id"),
    "ip": _("IP address"),
    "store": _("store"),
    "order_ref": _("order reference"),
    "method": _("method"),
    "redemption": _("redemption"),
    "import_job": _("card-stock import"),
    "changes": _("changes"),
    "count": _("number of codes"),
    "format": _("format"),
    "export": _("export"),
    "campaign": _("campaign"),
    "source": _("source"),
    "order_amount": _("order amount"),
    "discount": _("discount"),
}

# Values written as codes, shown by name (redemption's methods: vouchers may not import
# redemption, so the names are repeated here as display labels only).
VALUE_LABELS = {
    "method": {"code": _("code"), "token": _("QR token"), "serial": _("serial (trusted POS)")},
}


def status_label(status: str) -> str:
    """A voucher status by its (translated) name; "" stays "" and an unknown value stays
    as it is."""
    if not status:
        return ""
    try:
        return str(Voucher.Status(status).label)
    except ValueError:
        return status


def _value_text(value) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _changes_text(changes) -> str:
    """An "update" event's changes: "field: old → new" each."""
    if not isinstance(changes, dict):
        return _value_text(changes)
    parts = []
    for field, change in changes.items():
        if isinstance(change, dict) and {"from", "to"} <= change.keys():
            parts.append(f"{field}: {_value_text(change['from'])} → {_value_text(change['to'])}")
        else:
            parts.append(f"{field}: {_value_text(change)}")
    return "; ".join(parts)


def readable_rows(data) -> list[tuple[str, str]]:
    """(label, value) per key of a context or trace dict, in the order it was written."""
    if not isinstance(data, dict):
        return [] if data in (None, "", [], {}) else [("", _value_text(data))]
    rows = []
    for key, value in data.items():
        label = str(CONTEXT_LABELS.get(key, key))
        if key == "changes":
            text = _changes_text(value)
        elif isinstance(value, str) and value in VALUE_LABELS.get(key, {}):
            text = str(VALUE_LABELS[key][value])
        else:
            text = _value_text(value)
        rows.append((label, text))
    return rows


def readable_html(data) -> str:
    """The rows as HTML ("label: value", one per line); "—" when there is nothing."""
    rows = readable_rows(data)
    if not rows:
        return "—"
    return format_html(
        '<div class="readable-context">{}</div>',
        format_html_join(
            "", '<div class="readable-row"><span class="readable-label">{}</span>: {}</div>', rows
        ),
    )
