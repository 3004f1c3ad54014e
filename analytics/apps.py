from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 60
    # Collected by riskcontrol's roles after every migrate.
    role_permissions = {"Operator": ("*",), "Auditor": ("view_*",)}
