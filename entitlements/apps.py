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
    # Sections of the program file (riskcontrol.programfile), after the members' ones.
    program_sections = (
        "entitlements.programfile.BenefitsSection",
        "entitlements.programfile.TierBenefitsSection",
    )

    def ready(self) -> None:
        # A tier upgrade (members) grants the tier's on_upgrade benefits, after commit.
        from members.hooks import on_tier_upgrade

        from .tasks import enqueue_upgrade_grants

        on_tier_upgrade(enqueue_upgrade_grants)
