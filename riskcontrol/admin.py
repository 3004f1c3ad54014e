"""Django admin autodiscovery loads this module; riskcontrol's admin pages live in
`riskcontrol.console.admin`."""

from .console import admin  # noqa: F401
