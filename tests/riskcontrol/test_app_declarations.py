"""Apps declare their role permissions and re-encryption steps; riskcontrol only collects
them, names no upper app and imports nothing inside functions (issue 10, items 3 and 5)."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured

from riskcontrol.console.roles import app_roles, roles_sync
from riskcontrol.crypto import reencryption_steps
from riskcontrol.partners.scopes import SCOPES, scope_choices

RISKCONTROL = Path(apps.get_app_config("riskcontrol").path)
UPPER_APPS = ("config", "members", "vouchers", "redemption", "suppliers", "entitlements")
UPPER_APPS += ("analytics",)
OUR_APPS = ("riskcontrol", *UPPER_APPS[1:])
SENSITIVE = {"vouchers.reveal_secret", "vouchers.export_secrets"}


def _perms(group_name: str) -> set[str]:
    rows = Group.objects.get(name=group_name).permissions.values_list(
        "content_type__app_label", "codename"
    )
    return {f"{app}.{codename}" for app, codename in rows}


def _all_perms() -> set[str]:
    rows = Permission.objects.values_list("content_type__app_label", "codename")
    return {f"{app}.{codename}" for app, codename in rows}


@pytest.mark.django_db
def test_the_roles_hold_the_same_permissions_as_before_the_apps_declared_them():
    # given: the rule the roles module spelled out before issue 10
    every = _all_perms()
    ours = {p for p in every if p.split(".")[0] in OUR_APPS}
    views = {p for p in every if p.split(".")[1].startswith("view_")}
    beat_axes = {p for p in every if p.split(".")[0] in ("django_celery_beat", "axes")}
    expected = {
        "Operator": (ours - SENSITIVE)
        | (beat_axes & views)
        | {"django_celery_beat.change_periodictask"},
        "Store clerk": {
            "redemption.add_redemption",
            "redemption.view_redemption",
            "redemption.view_store",
            "vouchers.view_voucher",
        },
        "Secret custodian": SENSITIVE,
        "Auditor": views & {p for p in every if p.split(".")[0] in (*OUR_APPS, "auth")}
        | (beat_axes & views),
    }
    Group.objects.all().delete()

    # when
    roles_sync()

    # then
    assert {name: _perms(name) for name in expected} == expected


def test_every_quanyi_app_declares_its_roles_and_a_typo_in_a_role_name_is_refused(monkeypatch):
    assert set(OUR_APPS) <= set(app_roles())
    vouchers = apps.get_app_config("vouchers")
    monkeypatch.setattr(vouchers, "role_permissions", {"Operater": ("*",)}, raising=False)

    with pytest.raises(ImproperlyConfigured, match="Operater"):
        app_roles()


def test_key_rotation_steps_come_from_the_apps_lower_apps_first():
    assert [(step.model, step.label) for step in reencryption_steps()] == [
        ("riskcontrol.IdempotencyKey", "stored API responses"),
        ("members.Member", "member contacts"),
        ("vouchers.Voucher", "voucher codes"),
    ]


def test_the_partner_scopes_are_collected_from_the_apps_in_the_order_they_had():
    assert list(SCOPES) == [
        "members:read",
        "members:write",
        "members:events",
        "points:read",
        "points:write",
        "batches:read",
        "vouchers:claim",
        "vouchers:read",
        "vouchers:reveal",
        "vouchers:reveal_any",
        "vouchers:present",
        "redemptions:read",
        "redemptions:write",
        "redemptions:serial",
        "stores:read",
        "stores:write",
        "benefits:read",
        "benefits:grant",
    ]
    assert str(SCOPES["vouchers:claim"]) == "Claim vouchers for members"
    assert scope_choices()[0] == (
        "members:read",
        "members:read — Read members and the vouchers they hold",
    )


def _modules():
    return [p for p in RISKCONTROL.rglob("*.py") if "migrations" not in p.parts]


def test_riskcontrol_imports_no_upper_app_and_names_none_in_a_dotted_string():
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            else:
                continue
            for name in names:
                if any(name == app or name.startswith(f"{app}.") for app in UPPER_APPS):
                    offenders.append(f"{path.relative_to(RISKCONTROL)}:{node.lineno} {name}")
    assert offenders == []


def test_riskcontrol_imports_inside_functions_only_in_its_app_config_ready():
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if path.name == "apps.py" and func.name == "ready":
                continue  # the documented exception: models exist only from here on
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    offenders.append(f"{path.relative_to(RISKCONTROL)}:{node.lineno}")
    assert offenders == []
