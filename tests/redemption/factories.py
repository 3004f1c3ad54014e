from django.contrib.auth import get_user_model

from members.services import member_upsert
from redemption.models import BatchRedemptionRule, Store, StoreStaff
from redemption.services import store_upsert
from riskcontrol.core.actors import Actor
from tests.vouchers.factories import make_batch
from vouchers.services import voucher_claim

SYSTEM = Actor.system("test")


def make_store(code="S001", group="上海", **kwargs) -> Store:
    return store_upsert(code=code, name=kwargs.pop("name", f"Store {code}"), group=group, **kwargs)[
        0
    ]


def make_staff(username: str, store: Store, role=StoreStaff.Role.CLERK, password="pw-staff-123"):
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first() or user_model.objects.create_user(
        username, password=password
    )
    StoreStaff.objects.create(user=user, store=store, role=role)
    return user


def claimed_code(batch_code: str = "RED", member: str = "M1", **batch_kwargs):
    """A claimed voucher of a (new) batch: returns the ClaimResult (voucher + code)."""
    member_upsert(external_id=member)
    make_batch(code=batch_code, **{"quantity": 3, "per_member_limit": None, **batch_kwargs})
    return voucher_claim(batch_code=batch_code, member_external_id=member, actor=SYSTEM)


def rule_for(batch, **fields) -> BatchRedemptionRule:
    stores = fields.pop("stores", [])
    rule = BatchRedemptionRule.objects.create(batch=batch, **fields)
    rule.stores.set(stores)
    return rule
