"""Rules live in the app that owns them (issue 10, item 4), checked on the source:
the redemption app reads vouchers through vouchers' selectors and locks (never
`Voucher.objects`), decides redeemability and face value through `vouchers.rules`
(no copy of the rule), and its selectors never write (no guess is recorded there)."""

import ast
from pathlib import Path

import redemption
import vouchers

REDEMPTION = Path(redemption.__file__).parent
VOUCHERS = Path(vouchers.__file__).parent


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _attribute_chains(tree: ast.AST) -> set[str]:
    chains = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            chains.add(f"{node.value.id}.{node.attr}")
    return chains


def test_redemption_reads_no_voucher_through_its_manager():
    offenders = [
        str(path.relative_to(REDEMPTION))
        for path in _modules(REDEMPTION)
        if "Voucher.objects" in _attribute_chains(_tree(path))
    ]
    assert offenders == []


def _face_value_fallbacks(tree: ast.AST) -> int:
    """`x.face_value if x.face_value is not None else y.face_value` and the like."""
    found = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp) and "face_value" in ast.unparse(node.test):
            found += 1
    return found


def test_the_face_value_fallback_is_written_once_in_vouchers_rules():
    copies = {
        str(path): n
        for root in (REDEMPTION, VOUCHERS)
        for path in _modules(root)
        if (n := _face_value_fallbacks(_tree(path)))
    }
    assert copies == {}  # vouchers/rules.py spells it as an if statement


def test_redeemability_is_decided_only_in_vouchers_rules():
    """No module outside vouchers/rules.py compares a voucher's expiry with a moment or
    reads `allow_unclaimed_redemption` to decide a redemption."""
    offenders = []
    for path in _modules(REDEMPTION):
        source = path.read_text(encoding="utf-8")
        if "expires_at <=" in source or ".allow_unclaimed_redemption" in source:
            offenders.append(str(path.relative_to(REDEMPTION)))
    assert offenders == []


def test_redemption_selectors_never_write():
    tree = _tree(REDEMPTION / "selectors.py")
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    writes = {"guess_failure_record", "create", "update", "save", "delete", "bulk_create"}
    assert names & writes == set()


def test_no_function_level_imports_in_the_redemption_path():
    """Imports sit at the top of the module (the tasks <-> services cycle breaker lives in
    vouchers/tasks.py, which is not checked here)."""
    checked = [
        *sorted((VOUCHERS / "services").glob("*.py")),
        VOUCHERS / "rules.py",
        VOUCHERS / "selectors.py",
        VOUCHERS / "api.py",
        *(REDEMPTION / name for name in ("services.py", "selectors.py", "rules.py")),
        *(REDEMPTION / name for name in ("presentations.py", "clerk.py", "api.py")),
    ]
    offenders = []
    for path in checked:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        offenders.append(f"{path.name}:{inner.lineno}")
    assert offenders == []
