from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from riskcontrol.crypto import ReencryptionStep


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Vouchers")
    # Its place among the console\'s business sections (riskcontrol/console_site.py).
    console_order = 30
    # Collected by riskcontrol (roles after migrate, partner API scopes, key rotation). Revealing
    # and exporting codes is never granted by a wildcard: only the Secret custodian has it.
    sensitive_permissions = ("reveal_secret", "export_secrets")
    role_permissions = {
        "Operator": ("*",),
        "Store clerk": ("view_voucher",),
        "Secret custodian": sensitive_permissions,
        "Auditor": ("view_*",),
    }
    partner_scopes = {
        "batches:read": _("Read batches and their stock"),
        "vouchers:claim": _("Claim vouchers for members"),
        "vouchers:read": _("Read vouchers"),
        "vouchers:reveal": _("Reveal codes of vouchers claimed through this client"),
        "vouchers:reveal_any": _("Reveal the code of any voucher (with vouchers:reveal)"),
        "vouchers:present": _("Create presentation tokens (QR codes)"),
    }
    reencryption = (
        ReencryptionStep(
            label="voucher codes",
            model="vouchers.Voucher",
            reencrypt="vouchers.services.vouchers_reencrypt",
            stale="vouchers.selectors.vouchers_under_older_keys",
        ),
    )

    def ready(self) -> None:
        # Imported here, not at the top: admin modules import models, which are not
        # loaded yet when this module is (Django's documented place for this is ready()).
        from members.timeline import timeline_sources

        from .admin.member_timeline import member_vouchers_source

        # Members sits below vouchers: its member page shows a member's vouchers through
        # the timeline hook it offers.
        timeline_sources.register(member_vouchers_source)
