"""The scopes a partner client can hold (API.md, "Resources").

Each app declares the scopes of its own resources in its AppConfig, as
`partner_scopes = {"orders:read": _("Read orders"), …}`; `SCOPES`
collects them in INSTALLED_APPS order (lower apps first), when first read, so riskcontrol
names no upper app.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured


def _declared() -> dict[str, object]:
    scopes: dict[str, object] = {}
    for config in apps.get_app_configs():
        for scope, label in getattr(config, "partner_scopes", {}).items():
            if scope in scopes:
                raise ImproperlyConfigured(f"{config.label}: scope {scope!r} declared twice")
            scopes[scope] = label
    return scopes


class _Scopes(Mapping):
    """Scope -> translatable description, read from the app registry on each use."""

    def __getitem__(self, scope: str) -> object:
        return _declared()[scope]

    def __iter__(self) -> Iterator[str]:
        return iter(_declared())

    def __len__(self) -> int:
        return len(_declared())

    def __repr__(self) -> str:
        return f"SCOPES({list(self)!r})"


SCOPES: Mapping[str, object] = _Scopes()


def scope_choices() -> list[tuple[str, str]]:
    """Form choices ("scope — description"); pass the function itself as `choices`."""
    return [(scope, f"{scope} — {label}") for scope, label in _declared().items()]
