from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RedemptionConfig(AppConfig):
    name = "redemption"
    verbose_name = _("Redemption")
    # Collected by riskcontrol's roles after every migrate.
    role_permissions = {
        "Operator": ("*",),
        "Store clerk": ("add_redemption", "view_redemption", "view_store"),
        "Auditor": ("view_*",),
    }
