"""The program file (design: PROGRAM.md): a member program as one YAML or JSON file.

This is the core, and it knows no business model: it parses the file, asks each
section to validate its part (all errors at once, each with its place, e.g.
`earning_rules[1].tier_multipliers.gold: …`), collects what would be created or
changed (the dry-run diff), and applies every section in one transaction — or says
"no changes". `export` asks each section for its current state.

Sections are registered by the apps, like `partner_scopes`: an AppConfig lists
`program_sections = ("members.programfile.TiersSection", …)` (dotted paths of `Section`
subclasses), and sections are validated and applied in INSTALLED_APPS order (lower
layers first), then in the order each app lists them. A later app adds its sections
(benefits, automation, risk rules, suppliers) without touching this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..core.actors import Actor
from ..core.audit import audit_changes, audit_record
from ..core.errors import DomainError


@dataclass
class Change:
    """One object the file creates or changes: `fields` maps a field to (before, after)
    (for a creation, `before` is None)."""

    section: str
    code: str
    action: str  # "create" | "update"
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        """ "create tiers gold", "change tiers gold (threshold: 4000 → 5000)"; a section
        that is one object (tier_policy) has no code."""
        target = f"{self.section} {self.code}".strip()
        if self.action == "create":
            return _("create %(target)s") % {"target": target}
        details = ", ".join(
            f"{name}: {_show(before)} → {_show(after)}"
            for name, (before, after) in self.fields.items()
        )
        return _("change %(target)s (%(details)s)") % {"target": target, "details": details}


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


@dataclass
class Report:
    changes: list[Change]
    applied: bool
    dry_run: bool

    @property
    def no_changes(self) -> bool:
        return not self.changes


class ProgramInvalid(DomainError):
    """The file cannot be applied; `problems` lists every (place, message). Nothing was
    written."""

    code = "program_invalid"
    status = 400

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(
            _("The program file has %(n)d error(s); nothing was written.") % {"n": len(problems)}
        )


class Context:
    """What a section sees while validating or applying: the whole parsed file (to look
    up codes other sections define), the actor, and where to report problems."""

    def __init__(self, document: dict, actor: Actor | None = None) -> None:
        self.document = document
        self.actor = actor
        self.problems: list[tuple[str, str]] = []

    def error(self, place: str, message: str) -> None:
        self.problems.append((place, str(message)))

    def section(self, name: str) -> Any:
        """Another section's value in the file (None when absent)."""
        return self.document.get(name)


class Section:
    """One top-level key of the program file. Subclasses set `name` and implement the
    four methods; `validate` must report with `context.error(place, message)`, places
    starting with the section's name (`tiers[2].threshold`)."""

    name: str = ""

    def validate(self, value: Any, context: Context) -> None:
        raise NotImplementedError

    def plan(self, value: Any, context: Context) -> list[Change]:
        """What applying `value` (valid) would create or change; [] when nothing."""
        raise NotImplementedError

    def apply(self, value: Any, context: Context) -> None:
        """Write `value` (valid), inside the program's transaction."""
        raise NotImplementedError

    def export(self) -> Any:
        """The section's current state in the file's form (None: leave it out)."""
        raise NotImplementedError


def sections() -> list[Section]:
    """The registered sections in application order."""
    found: list[Section] = []
    names: set[str] = set()
    for config in apps.get_app_configs():
        for path in getattr(config, "program_sections", ()):
            section = import_string(path)()
            if not section.name or section.name in names:
                raise ImproperlyConfigured(
                    f"{config.label}: program section {path!r} has no name or a taken one"
                )
            names.add(section.name)
            found.append(section)
    return found


def _parse(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = (
            _("line %(line)d, column %(column)d")
            % {"line": mark.line + 1, "column": mark.column + 1}
            if mark
            else _("file")
        )
        problem = getattr(error, "problem", None) or str(error)
        raise ProgramInvalid(
            [(where, _("not valid YAML or JSON: %(problem)s") % {"problem": problem})]
        ) from None


def program_validate(
    document: Any, *, actor: Actor | None = None
) -> tuple[Context, list[tuple[Section, Any]]]:
    """Validate a parsed file as a whole; raises ProgramInvalid with every problem."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ProgramInvalid([("file", _("The file must be a mapping of sections (key: value)."))])
    context = Context(document, actor)
    registered = sections()
    known = {section.name for section in registered}
    for key in document:
        if key not in known:
            context.error(
                str(key),
                _("unknown section (known: %(names)s)")
                % {"names": ", ".join(s.name for s in registered)},
            )
    present = [
        (section, document[section.name]) for section in registered if section.name in document
    ]
    for section, value in present:
        section.validate(value, context)
    if context.problems:
        raise ProgramInvalid(context.problems)
    return context, present


def program_apply(source: str | dict, *, actor: Actor, dry_run: bool = False) -> Report:
    """Apply a program file (text, or an already parsed mapping): validate it all, then
    — unless `dry_run` or nothing would change — write every section in one transaction,
    in layer order. Objects the file does not name are left alone."""
    document = _parse(source) if isinstance(source, str) else source
    with transaction.atomic():
        _serialise_applies()
        context, present = program_validate(document, actor=actor)
        changes = [change for section, value in present for change in section.plan(value, context)]
        if dry_run or not changes:
            return Report(changes=changes, applied=False, dry_run=dry_run)
        for section, value in present:
            section.apply(value, context)
    return Report(changes=changes, applied=True, dry_run=False)


PROGRAM_LOCK = 0x7175616E_7969  # an arbitrary application-wide advisory lock key


def _serialise_applies() -> None:
    """One apply at a time (PostgreSQL): a second one waits, then validates and diffs
    against what the first wrote, so two racing applies of one file create nothing twice.
    SQLite serialises writers already (IMMEDIATE transactions)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PROGRAM_LOCK])


def program_export() -> dict[str, Any]:
    """Every section's current state, in application order."""
    exported: dict[str, Any] = {}
    for section in sections():
        value = section.export()
        if value is not None:
            exported[section.name] = value
    return exported


def program_dump(document: dict[str, Any]) -> str:
    """`document` as YAML (Chinese kept readable, keys in the order given)."""
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=False)


def iter_places(prefix: str, items: Any) -> Iterator[tuple[str, Any]]:
    """(`prefix[i]`, item) for a list value, the helper sections use for their places."""
    for index, item in enumerate(items):
        yield f"{prefix}[{index}]", item


# --- what sections share --------------------------------------------------------------


def whole(value: Any) -> bool:
    """A whole number as the file gives it (YAML's booleans are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def decimal_value(value: Any, *, maximum: Decimal, places: int = 2) -> Decimal | None:
    """A number from 0 to `maximum` with at most `places` decimals, as the file gives it
    (an int, a float or a string; YAML's booleans are not numbers); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        return None
    return number if number == number.quantize(Decimal(1).scaleb(-places)) else None


def check_keys(context: Context, place: str, item: dict, allowed: tuple[str, ...]) -> None:
    """An error at `place.key` for each key of `item` the section does not know."""
    for key in item:
        if key not in allowed:
            context.error(
                f"{place}.{key}",
                _("unknown field (known: %(keys)s)") % {"keys": ", ".join(allowed)},
            )


def diff(section: str, code: str, current: dict | None, wanted: dict) -> list[Change]:
    """The change that turns `current` (None: not there yet) into `wanted`, if any."""
    if current is None:
        fields = {key: (None, value) for key, value in wanted.items()}
        return [Change(section=section, code=code, action="create", fields=fields)]
    fields = {
        key: (current.get(key), value) for key, value in wanted.items() if current.get(key) != value
    }
    return [Change(section=section, code=code, action="update", fields=fields)] if fields else []


def record(obj, *, before: dict, after: dict, actor: Actor | None, label: str) -> None:
    """The audit event of a record the file created or changed (none when unchanged)."""
    changes = audit_changes(before, after)
    if before and not changes:
        return
    audit_record(
        subject=obj,
        action="update" if before else "create",
        actor=actor or Actor.system("program"),
        changes={**changes, "via": "program file"},
        label=label,
    )
