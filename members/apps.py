from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from riskcontrol.crypto import ReencryptionStep


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 10
    # Collected by riskcontrol (roles after migrate, partner API scopes, key rotation).
    role_permissions = {"Operator": ("*",), "Auditor": ("view_*",)}
    partner_scopes = {
        "members:read": _("Read members and the vouchers they hold"),
        "members:write": _("Create and update members"),
        "members:events": _("Record member events (purchases, check-ins …)"),
        "points:read": _("Read members' points and points ledger"),
        "points:write": _("Spend members' points"),
    }
    # Sections of the program file (riskcontrol.programfile), applied in this order.
    program_sections = (
        "members.programfile.TierPolicySection",
        "members.programfile.TiersSection",
        "members.programfile.EarningRulesSection",
    )
    reencryption = (
        ReencryptionStep(
            label="member contacts",
            model="members.Member",
            reencrypt="members.services.members_reencrypt",
            stale="members.selectors.members_under_older_keys",
        ),
    )
