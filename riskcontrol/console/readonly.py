"""The console's base for records the system writes and people only read."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records the system writes and people only read (audit events, alerts, ledgers,
    grants): no add, change or delete in the console, whatever the role."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
