from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from riskcontrol.crypto import ReencryptionStep


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Vouchers")
    # Collected by riskcontrol (roles after migrate; the key-rotation command). Revealing
    # and exporting codes is never granted by a wildcard: only the Secret custodian has it.
    sensitive_permissions = ("reveal_secret", "export_secrets")
    role_permissions = {
        "Operator": ("*",),
        "Store clerk": ("view_voucher",),
        "Secret custodian": sensitive_permissions,
        "Auditor": ("view_*",),
    }
    reencryption = (
        ReencryptionStep(
            label="voucher codes",
            model="vouchers.Voucher",
            reencrypt="vouchers.services.vouchers_reencrypt",
            stale="vouchers.selectors.vouchers_under_older_keys",
        ),
    )
