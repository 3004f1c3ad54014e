"""Demo members for `manage.py seed_demo` (idempotent). Their tiers come from the demo
program (`demo_program.yaml`, applied by seed_demo before `seed`)."""

from pathlib import Path

from .models import Tier
from .services import member_upsert

PROGRAM_FILE = Path(__file__).with_name("demo_program.yaml")

# Tiers of demo databases seeded before the program file: renamed to the program's codes
# so that re-seeding such a database keeps its members and frees the ranks.
LEGACY_TIERS = {"standard": "normal", "black": "black_gold"}

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
        "tier": "normal",
        "tags": [],
    },
]


def retire_legacy_tiers() -> None:
    for old, new in LEGACY_TIERS.items():
        if not Tier.objects.filter(code=new).exists():
            Tier.objects.filter(code=old).update(code=new)


def seed() -> list[str]:
    for data in MEMBERS:
        member_upsert(**data)
    return [data["external_id"] for data in MEMBERS]
