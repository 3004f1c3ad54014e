from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RedemptionConfig(AppConfig):
    name = "redemption"
    verbose_name = _("Stores and redemptions")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 40
    # Collected by riskcontrol (roles after every migrate; the partner API's scopes).
    partner_scopes = {
        "redemptions:read": _("Read redemptions"),
        "redemptions:write": _("Redeem and reverse"),
        "redemptions:serial": _("Redeem by serial (trusted POS)"),
        "stores:read": _("Read stores"),
        "stores:write": _("Create and update stores"),
    }
    role_permissions = {
        "Operator": ("*",),
        "Store clerk": ("add_redemption", "view_redemption", "view_store"),
        "Auditor": ("view_*",),
    }

    def ready(self) -> None:
        # Imported here, not at the top: admin modules import models, which are not
        # loaded yet when this module is (Django's documented place for this is ready()).
        from vouchers.admin import batch_inlines

        from .admin import BatchRedemptionRuleInline

        # The redemption app owns a batch's redemption rules; they are edited on the
        # batch page, through the hook the vouchers admin offers.
        batch_inlines.register(BatchRedemptionRuleInline)
