"""A confirmation page for admin actions that change many rows or cannot be undone."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ..core.text import is_free_text_safe


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirmed") == "yes"


def posted_reason(request: HttpRequest) -> str | None:
    """The typed reason, stripped ("" when none was typed); None when it holds control
    characters (NUL cannot even be stored), so the caller refuses instead of failing."""
    reason = request.POST.get("reason", "").strip()
    return reason if is_free_text_safe(reason) else None


def confirmed_reason(request: HttpRequest) -> str | None:
    """The typed reason of a confirmed action that asks for one (None: not confirmed yet,
    or confirmed without a usable reason, so the page is shown again)."""
    reason = posted_reason(request)
    return reason if confirmed(request) and reason else None


def confirmation_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    message: str,
    button: str,
    ask_reason: bool = False,
) -> TemplateResponse:
    """Render "are you sure?" for `action`; posting it back runs the action confirmed."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "message": message,
        "button": button,
        "action": action,
        "objects": list(queryset[:50]),
        "count": queryset.count(),
        "opts": opts,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "ask_reason": ask_reason,
        "reason_missing": ask_reason and confirmed(request),
        "reason_invalid": ask_reason and confirmed(request) and posted_reason(request) is None,
    }
    return TemplateResponse(request, "admin/quanyi_confirm_action.html", context)
