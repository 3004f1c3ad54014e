from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EntitlementsConfig(AppConfig):
    name = "entitlements"
    verbose_name = _("Benefits")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 20
    # Collected by riskcontrol's roles after every migrate.
    role_permissions = {"Operator": ("*",), "Auditor": ("view_*",)}
    # Collected by riskcontrol (partner API scopes).
    partner_scopes = {
        "benefits:read": _("Read the benefit catalog and its stock"),
        "benefits:grant": _("Grant benefits to members and read those grants"),
    }
