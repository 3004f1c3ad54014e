"""The operator roles and the permissions each holds, kept in sync after every migrate.

Permissions are matched by rule rather than listed one by one, so a model added by a later
issue lands in the right roles without touching this file; codenames in `exclude` (the
sensitive ones) are granted one person at a time by a superuser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUANYI_APPS = (
    "riskcontrol",
    "members",
    "vouchers",
    "redemption",
    "suppliers",
    "entitlements",
    "analytics",
)


@dataclass(frozen=True)
class Role:
    name: str
    # (app_label, codename prefix or exact codename)
    all_in_apps: tuple[str, ...] = ()
    view_in_apps: tuple[str, ...] = ()
    explicit: tuple[str, ...] = ()  # "app_label.codename"
    exclude: tuple[str, ...] = field(default_factory=tuple)


SENSITIVE = (
    "vouchers.reveal_secret",
    "vouchers.export_secrets",
)

ROLES = (
    Role(
        name="Operator",
        all_in_apps=QUANYI_APPS,
        view_in_apps=("django_celery_beat", "axes"),
        explicit=("django_celery_beat.change_periodictask",),
        exclude=SENSITIVE,
    ),
    Role(
        name="Store clerk",
        explicit=(
            "redemption.add_redemption",
            "redemption.view_redemption",
            "redemption.view_store",
            "vouchers.view_voucher",
        ),
    ),
    Role(
        # Reveals and exports codes; granted to few people, on top of Operator.
        name="Secret custodian",
        explicit=SENSITIVE,
    ),
    Role(
        name="Auditor",
        view_in_apps=(*QUANYI_APPS, "django_celery_beat", "axes", "auth"),
    ),
)


def role_permission_ids(role: Role) -> set[int]:
    from django.contrib.auth.models import Permission

    wanted: set[int] = set()
    for pk, app_label, codename in Permission.objects.values_list(
        "pk", "content_type__app_label", "codename"
    ):
        full = f"{app_label}.{codename}"
        if full in role.exclude:
            continue
        if (
            app_label in role.all_in_apps
            or (app_label in role.view_in_apps and codename.startswith("view_"))
            or full in role.explicit
        ):
            wanted.add(pk)
    return wanted
