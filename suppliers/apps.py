from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppliersConfig(AppConfig):
    name = "suppliers"
    verbose_name = _("Suppliers")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 50
    # Collected by riskcontrol's roles after every migrate.
    role_permissions = {"Operator": ("*",), "Auditor": ("view_*",)}
