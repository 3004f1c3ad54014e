"""Demo users, roles and a partner client for `manage.py seed_demo` (idempotent)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from .models import PartnerClient
from .partners.scopes import SCOPES
from .services import partner_client_create, partner_key_issue, partner_keys_revoke, roles_sync

DEMO_USERS = [
    # username, password, groups, is_staff (admin access), what to call them
    ("operator", "quanyi-operator", ["Operator", "Secret custodian"], True, "Operator"),
    ("auditor", "quanyi-auditor", ["Auditor"], True, "Auditor"),
    ("clerk", "quanyi-clerk", ["Store clerk"], False, "Store clerk"),
    ("manager", "quanyi-manager", ["Store clerk"], False, "Store manager"),
]
DEMO_CLIENT = "Demo partner"


def seed_users() -> list[tuple[str, str, str]]:
    roles_sync()
    user_model = get_user_model()
    for username, password, groups, is_staff, _label in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.is_staff = is_staff
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name__in=groups))
    return [(label, username, password) for username, password, _g, _s, label in DEMO_USERS]


@transaction.atomic
def seed_partner_key() -> str:
    """A fresh key for the demo client on every run; earlier demo keys are revoked."""
    client = PartnerClient.objects.filter(name=DEMO_CLIENT).first()
    if client is None:
        client = partner_client_create(name=DEMO_CLIENT, scopes=list(SCOPES))
    else:
        client.scopes = list(SCOPES)
        client.active = True
        client.save(update_fields=["scopes", "active", "updated_at"])
        partner_keys_revoke(client=client)
    _key, raw_key = partner_key_issue(client=client, name="demo")
    return raw_key
