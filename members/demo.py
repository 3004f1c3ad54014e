"""Demo members for `manage.py seed_demo` (idempotent)."""

from .models import Tier
from .services import member_upsert

TIERS = [
    ("standard", "普通会员", 10),
    ("silver", "银卡", 20),
    ("gold", "金卡", 30),
    ("black", "黑金", 40),
]

MEMBERS = [
    {
        "external_id": "M0001",
        "name": "张三",
        "phone": "13800000001",
        "tier": "gold",
        "tags": ["high_value"],
    },
    {
        "external_id": "M0002",
        "name": "李四",
        "phone": "13800000002",
        "tier": "silver",
        "tags": ["new"],
    },
    {
        "external_id": "M0003",
        "name": "王五",
        "email": "wangwu@example.com",
        "tier": "standard",
        "tags": [],
    },
]


def seed() -> list[str]:
    for code, name, rank in TIERS:
        Tier.objects.update_or_create(code=code, defaults={"name": name, "rank": rank})
    for data in MEMBERS:
        member_upsert(**data)
    return [data["external_id"] for data in MEMBERS]
