from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles_after_last_app(sender, using="default", **kwargs) -> None:
    # post_migrate fires once per app; permissions of every app exist only after the last.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if not with_models or sender.label != with_models[-1].label:
        return
    from .services import roles_sync

    roles_sync()


class RiskcontrolConfig(AppConfig):
    name = "riskcontrol"
    verbose_name = _("Risk control and partner access")

    def ready(self) -> None:
        from . import (  # noqa: F401  (registers the OpenAPI auth extension, system checks)
            authentication,
            checks,
        )

        post_migrate.connect(_sync_roles_after_last_app, dispatch_uid="quanyi.roles_sync")
