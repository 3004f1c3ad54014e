"""The operator roles and the permissions each holds, kept in sync after every migrate.

The role names live here; which permissions each role gets is declared by every app in
its own AppConfig (`role_permissions`), and riskcontrol only collects the declarations,
so it names no upper app. Patterns are codenames of the declaring app's permissions:
"*" for all of them, "view_*" for every view permission, or one exact codename. Wildcards
never match the app's `sensitive_permissions` (codenames granted one role at a time, e.g.
revealing codes), so a model added by a later issue lands in the right roles without
touching any list. Apps outside Quanyi (Celery beat, axes, auth) are declared below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

OPERATOR = "Operator"
STORE_CLERK = "Store clerk"
# Reveals and exports codes; granted to few people, on top of Operator.
SECRET_CUSTODIAN = "Secret custodian"  # noqa: S105  (a role name)
AUDITOR = "Auditor"
ROLE_NAMES = (OPERATOR, STORE_CLERK, SECRET_CUSTODIAN, AUDITOR)

# Third-party apps have no AppConfig of ours to declare in.
THIRD_PARTY_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "django_celery_beat": {
        OPERATOR: ("view_*", "change_periodictask"),
        AUDITOR: ("view_*",),
    },
    "axes": {OPERATOR: ("view_*",), AUDITOR: ("view_*",)},
    "auth": {AUDITOR: ("view_*",)},
}


@dataclass(frozen=True)
class AppRoles:
    """What one app grants each role: role name -> codename patterns."""

    grants: Mapping[str, tuple[str, ...]]
    sensitive: frozenset[str] = field(default_factory=frozenset)

    def allows(self, role: str, codename: str) -> bool:
        for pattern in self.grants.get(role, ()):
            if pattern == codename:
                return True
            if codename in self.sensitive:
                continue
            if pattern == "*" or (pattern == "view_*" and codename.startswith("view_")):
                return True
        return False


def app_roles() -> dict[str, AppRoles]:
    """Every app's declaration, by app label (installed apps and the third-party table)."""
    declared = {label: AppRoles(grants=grants) for label, grants in THIRD_PARTY_PERMISSIONS.items()}
    for config in apps.get_app_configs():
        grants = getattr(config, "role_permissions", None)
        if grants is not None:
            unknown = set(grants) - set(ROLE_NAMES)
            if unknown:
                raise ImproperlyConfigured(
                    f"{config.label}: role_permissions names unknown roles {sorted(unknown)}"
                )
            declared[config.label] = AppRoles(
                grants=grants, sensitive=frozenset(getattr(config, "sensitive_permissions", ()))
            )
    return declared


def role_permission_ids(role: str, declared: Mapping[str, AppRoles] | None = None) -> set[int]:
    declared = app_roles() if declared is None else declared
    rows: Iterable[tuple[int, str, str]] = Permission.objects.values_list(
        "pk", "content_type__app_label", "codename"
    )
    return {
        pk
        for pk, app_label, codename in rows
        if app_label in declared and declared[app_label].allows(role, codename)
    }


def roles_sync_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate fires once per app; every app's permissions exist only after the last."""
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if not with_models or sender.label != with_models[-1].label:
        return
    roles_sync()


@transaction.atomic
def roles_sync() -> None:
    """Create the role groups and set each one's permissions exactly."""
    declared = app_roles()
    for role in ROLE_NAMES:
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set(role_permission_ids(role, declared))
