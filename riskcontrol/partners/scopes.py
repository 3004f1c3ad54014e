"""The scopes a partner client can hold (API.md, "Resources")."""

from django.utils.translation import gettext_lazy as _

SCOPES: dict[str, object] = {
    "members:read": _("Read members and the vouchers they hold"),
    "members:write": _("Create and update members"),
    "batches:read": _("Read batches and their stock"),
    "vouchers:claim": _("Claim vouchers for members"),
    "vouchers:read": _("Read vouchers"),
    "vouchers:reveal": _("Reveal codes of vouchers claimed through this client"),
    "vouchers:reveal_any": _("Reveal the code of any voucher (with vouchers:reveal)"),
    "vouchers:present": _("Create presentation tokens (QR codes)"),
    "redemptions:read": _("Read redemptions"),
    "redemptions:write": _("Redeem and reverse"),
    "redemptions:serial": _("Redeem by serial (trusted POS)"),
    "stores:read": _("Read stores"),
    "stores:write": _("Create and update stores"),
}

SCOPE_CHOICES = [(scope, f"{scope} — {label}") for scope, label in SCOPES.items()]
