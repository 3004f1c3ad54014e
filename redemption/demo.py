"""Demo stores and staff for `manage.py seed_demo` (idempotent)."""

from django.contrib.auth import get_user_model

from .models import Store, StoreStaff
from .services import store_upsert

STORES = [
    {
        "code": "S001",
        "name": "上海南京西路店",
        "address": "上海市静安区南京西路 1001 号",
        "group": "上海",
    },
    {"code": "S002", "name": "杭州西湖店", "address": "杭州市上城区湖滨路 88 号", "group": "杭州"},
]
STAFF = [
    ("clerk", "S001", StoreStaff.Role.CLERK),
    ("manager", "S001", StoreStaff.Role.MANAGER),
    ("manager", "S002", StoreStaff.Role.MANAGER),
]


def seed() -> list[str]:
    for spec in STORES:
        store_upsert(**spec)
    users = get_user_model().objects
    for username, store_code, role in STAFF:
        StoreStaff.objects.update_or_create(
            user=users.get(username=username),
            store=Store.objects.get(code=store_code),
            defaults={"role": role},
        )
    return [spec["code"] for spec in STORES]
