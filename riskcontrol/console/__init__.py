"""The operator console's shared parts: the confirm-then-act pattern for admin actions
(`confirm`), the roles and the permissions each app declares for them (`roles`), the
sealed upload store of django-import-export (`import_storage`), and riskcontrol's own
admin pages (`admin`, loaded by Django's admin autodiscovery through
`riskcontrol/admin.py`, not re-exported here). No business rules: actions call services.
"""

from .confirm import (
    ConfirmedAction,
    confirmation_page,
    confirmed,
    confirmed_action,
    confirmed_reason,
    posted_reason,
)
from .import_storage import SealedCacheStorage
from .roles import (
    AUDITOR,
    OPERATOR,
    ROLE_NAMES,
    SECRET_CUSTODIAN,
    STORE_CLERK,
    AppRoles,
    app_roles,
    role_permission_ids,
    roles_sync,
    roles_sync_after_migrate,
)

__all__ = [
    "AUDITOR",
    "OPERATOR",
    "ROLE_NAMES",
    "SECRET_CUSTODIAN",
    "STORE_CLERK",
    "AppRoles",
    "ConfirmedAction",
    "SealedCacheStorage",
    "app_roles",
    "confirmation_page",
    "confirmed",
    "confirmed_action",
    "confirmed_reason",
    "posted_reason",
    "role_permission_ids",
    "roles_sync",
    "roles_sync_after_migrate",
]
