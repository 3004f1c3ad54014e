"""No function-level imports (issue 10, item 5): an import inside a function hides a
dependency from readers and from import-linter's reading of the layers. The one kind
allowed are documented cycle breakers: a Celery task importing its service (tasks ↔
services), inside the task only, and an `AppConfig.ready()` registering with a lower
app (Django loads models after `apps.py`, so `ready()` is where such imports go)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "config",
    "riskcontrol",
    "members",
    "vouchers",
    "redemption",
    "suppliers",
    "entitlements",
    "analytics",
]
KNOWN: set[tuple[str, str]] = set()


def function_level_imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" in relative or path.name == "tasks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if path.name == "apps.py" and node.name == "ready":
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    found.append((relative, "." * inner.level + (inner.module or "")))
                elif isinstance(inner, ast.Import):
                    found.extend((relative, alias.name) for alias in inner.names)
    return [item for item in found if item not in KNOWN]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_level_imports(package):
    assert function_level_imports(package) == []
