from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from .crypto import ReencryptionStep


class RiskcontrolConfig(AppConfig):
    name = "riskcontrol"
    verbose_name = _("Risk control and partner access")
    # Collected by riskcontrol.console.roles and riskcontrol.crypto, like every app's.
    role_permissions = {"Operator": ("*",), "Auditor": ("view_*",)}
    reencryption = (
        ReencryptionStep(
            label="stored API responses",
            model="riskcontrol.IdempotencyKey",
            reencrypt="riskcontrol.partners.idempotency.idempotency_reencrypt",
            stale="riskcontrol.partners.idempotency.idempotency_stale_count",
        ),
    )

    def ready(self) -> None:
        # The one import inside a function in riskcontrol: apps.py is imported before any
        # model exists, so modules that register things on import (the OpenAPI auth
        # extension, the system checks, the roles hook) can only be loaded here.
        from . import checks, console  # noqa: F401
        from .http import authentication  # noqa: F401

        post_migrate.connect(
            console.roles.roles_sync_after_migrate, dispatch_uid="quanyi.roles_sync"
        )
