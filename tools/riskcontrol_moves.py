"""Rewrite imports of riskcontrol modules that moved into packages (issue 10).

Usage: python tools/riskcontrol_moves.py FILE_OR_DIR [...]   (add --check to only list)

Handles `from riskcontrol.x import …`, `from riskcontrol import x` (for moved modules),
`import riskcontrol.x`, dotted strings such as "riskcontrol.middleware.RequestIdMiddleware"
and file paths such as "riskcontrol/partner_api.py". Re-running it is harmless: the new
paths never match an old one. Relative imports inside riskcontrol are not touched, nor
files that carry the marker line "# riskcontrol_moves: leave this file".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# riskcontrol_moves: leave this file

MOVES = {
    "riskcontrol.errors": "riskcontrol.core.errors",
    "riskcontrol.actors": "riskcontrol.core.actors",
    "riskcontrol.request_context": "riskcontrol.core.request_context",
    "riskcontrol.text": "riskcontrol.core.text",
    "riskcontrol.audit": "riskcontrol.core.audit",
    "riskcontrol.spreadsheets": "riskcontrol.core.spreadsheets",
    "riskcontrol.problems": "riskcontrol.http.problems",
    "riskcontrol.schema": "riskcontrol.http.schema",
    "riskcontrol.pagination": "riskcontrol.http.pagination",
    "riskcontrol.partner_api": "riskcontrol.http.partner_api",
    "riskcontrol.middleware": "riskcontrol.http.middleware",
    "riskcontrol.parsers": "riskcontrol.http.parsers",
    "riskcontrol.authentication": "riskcontrol.http.authentication",
    "riskcontrol.permissions": "riskcontrol.http.permissions",
    "riskcontrol.throttles": "riskcontrol.http.throttles",
    "riskcontrol.api": "riskcontrol.http.health",
    "riskcontrol.scopes": "riskcontrol.partners.scopes",
    "riskcontrol.admin_confirm": "riskcontrol.console.confirm",
    "riskcontrol.roles": "riskcontrol.console.roles",
    "riskcontrol.import_storage": "riskcontrol.console.import_storage",
    "riskcontrol.guessing": "riskcontrol.rules.guessing",
    "riskcontrol.counters": "riskcontrol.rules.counters",
    "riskcontrol.fallback": "riskcontrol.rules.fallback",
}
# riskcontrol.services, .models, .crypto, .tasks, .checks, .demo and .admin keep their
# paths (services re-exports the partners/ and console/ services).

_OLD = "|".join(re.escape(old.split(".", 1)[1]) for old in sorted(MOVES, key=len, reverse=True))
# riskcontrol.x (module or dotted string), not followed by another identifier character.
_DOTTED = re.compile(rf"\briskcontrol\.({_OLD})(?![\w])")
# "riskcontrol/x.py" file paths (bench profiles name files).
_PATH = re.compile(rf"\briskcontrol/({_OLD})\.py\b")
# from riskcontrol import a, b as c   (one line, or in parentheses over several)
_FROM_PACKAGE = re.compile(
    r"^([ \t]*)from riskcontrol import (?:\(([^)]*)\)|([^\n(]+))$", re.MULTILINE
)


def _rewrite_from_package(match: re.Match) -> str:
    indent, names = match.group(1), match.group(2) or match.group(3)
    names = " ".join(line.split("#", 1)[0] for line in names.splitlines())
    parts = [" ".join(part.split()) for part in names.split(",") if part.strip()]
    kept, lines = [], []
    for part in parts:
        name, _as, alias = part.partition(" as ")
        new = MOVES.get(f"riskcontrol.{name.strip()}")
        if new is None:
            kept.append(part)
            continue
        package, module = new.rsplit(".", 1)
        alias = (alias or name).strip()
        lines.append(
            f"{indent}from {package} import {module}" + (f" as {alias}" if alias != module else "")
        )
    if not lines:
        return match.group(0)
    if kept:
        lines.insert(0, f"{indent}from riskcontrol import {', '.join(kept)}")
    return "\n".join(lines)


def rewrite(text: str) -> str:
    text = _FROM_PACKAGE.sub(_rewrite_from_package, text)
    text = _DOTTED.sub(lambda m: MOVES[f"riskcontrol.{m.group(1)}"], text)
    return _PATH.sub(lambda m: MOVES[f"riskcontrol.{m.group(1)}"].replace(".", "/") + ".py", text)


LEAVE_MARKER = "riskcontrol_moves: " + "leave this file"
SUFFIXES = {".py", ".toml", ".cfg", ".ini", ".md", ".txt", ".html"}


def _files(args: list[str]):
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                skip = {".venv", ".git", "node_modules", "__pycache__", "quanyi.egg-info"}
                if found.suffix in SUFFIXES and not skip.intersection(found.parts):
                    yield found
        else:
            yield path


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = 0
    for path in _files([a for a in argv if a != "--check"]):
        old = path.read_text(encoding="utf-8")
        if LEAVE_MARKER in old:
            continue  # this script and its test hold the old paths on purpose
        new = rewrite(old)
        if new != old:
            changed += 1
            print(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
