"""A confirmation page for admin actions that change many rows or cannot be undone, and
`confirmed_action`, the one way an admin action confirms, calls a service and reports."""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..core.actors import Actor
from ..core.errors import DomainError
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


def _as_message(outcome) -> tuple[str, int]:
    """`done` answers a sentence (a success) or a (sentence, message level) pair."""
    if isinstance(outcome, tuple):
        return str(outcome[0]), outcome[1]
    return str(outcome), messages.SUCCESS


class ConfirmedAction:
    """An admin action that shows the confirmation page first, then calls one service
    — once per selected row (`each`) or once for the whole selection (`selection`) —
    and reports with `message_user`. Made by `confirmed_action`; the attribute name it
    is assigned to in the ModelAdmin is the action's name."""

    def __init__(
        self,
        *,
        service: Callable[..., Any],
        permission: str,
        description: str,
        done: Callable[[Any, Any], Any],
        each: Callable[[Any], dict] | None,
        selection: Callable[[QuerySet], dict] | None,
        label: Callable[[Any], str],
        confirm: bool,
        ask_reason: bool,
        title: str,
        message: str,
        button: str,
    ) -> None:
        if (each is None) == (selection is None):
            raise TypeError("Give exactly one of `each` and `selection`.")
        self.service, self.done, self.each, self.selection = service, done, each, selection
        self.label, self.confirm, self.ask_reason = label, confirm, ask_reason
        self.title, self.message, self.button = title, message, button
        self.__name__ = "confirmed_action"
        # What Django's @admin.action sets: who sees the action, and its label.
        self.allowed_permissions = (permission,)
        self.short_description = description

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__ = name

    def __get__(self, instance, owner=None):
        return self if instance is None else MethodType(self, instance)

    def __call__(self, modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
        reason = self._reason(modeladmin, request, queryset)
        if isinstance(reason, TemplateResponse) or reason is None:
            return reason
        extra = {"reason": reason} if self.ask_reason else {}
        actor = Actor.for_user(request.user, request)
        if self.selection is not None:
            return self._run_once(modeladmin, request, queryset, actor, extra)
        for row in queryset:
            try:
                result = self.service(**self.each(row), actor=actor, **extra)
            except DomainError as error:
                modeladmin.message_user(
                    request, f"{self.label(row)}: {error.detail}", messages.WARNING
                )
                continue
            modeladmin.message_user(request, *_as_message(self.done(row, result)))
        return None

    def _reason(self, modeladmin, request, queryset) -> str | TemplateResponse | None:
        """The reason to record ("" when none is asked for); the confirmation page while
        the action is not confirmed yet; None (after saying why) when the reason cannot
        be used."""
        if self.confirm and not (
            confirmed_reason(request) if self.ask_reason else confirmed(request)
        ):
            return confirmation_page(
                modeladmin,
                request,
                queryset,
                action=self.__name__,
                title=self.title,
                message=self.message,
                button=self.button,
                ask_reason=self.ask_reason,
            )
        if not self.ask_reason:
            return ""
        reason = posted_reason(request)
        if reason is None:  # only reachable unconfirmed: a confirmed reason is safe already
            modeladmin.message_user(
                request, _("The reason must not contain control characters."), messages.ERROR
            )
        return reason

    def _run_once(self, modeladmin, request, queryset, actor, extra):
        try:
            result = self.service(**self.selection(queryset), actor=actor, **extra)
        except DomainError as error:
            modeladmin.message_user(request, str(error.detail), messages.WARNING)
            return None
        outcome = self.done(queryset, result)
        if isinstance(outcome, HttpResponseBase):
            return outcome
        modeladmin.message_user(request, *_as_message(outcome))
        return None


def confirmed_action(
    *,
    service: Callable[..., Any],
    permission: str,
    description: str,
    done: Callable[[Any, Any], Any],
    each: Callable[[Any], dict] | None = None,
    selection: Callable[[QuerySet], dict] | None = None,
    label: Callable[[Any], str] = str,
    confirm: bool = True,
    ask_reason: bool = True,
    title: str = "",
    message: str = "",
    button: str = "",
) -> ConfirmedAction:
    """An admin action that confirms, then calls `service` with `actor=` (and `reason=`
    when `ask_reason`) and reports. Assign it in the ModelAdmin under the action's name:

        freeze = confirmed_action(
            service=voucher_batch_freeze, permission="change_status",
            description=_("Freeze the selected batches"), each=lambda b: {"batch": b},
            label=lambda b: b.code, done=lambda b, report: ..., title=…, message=…, button=…,
        )

    `each(row)` gives the service's arguments for one selected row (one call per row; a
    refusal (DomainError) is reported as "<label(row)>: <why>" and the other rows go on);
    `selection(queryset)` instead gives them for the whole selection, called once.
    `done(row or queryset, result)` says what happened: a sentence (success), a
    (sentence, level) pair, or — with `selection` — a response to send instead (a
    download). With `ask_reason` the page asks why, a reason is required and one holding
    control characters is refused; `confirm=False` skips the page for actions that are
    safe to run straight away (a reason may still be posted; control characters are
    refused with a sentence)."""
    return ConfirmedAction(
        service=service,
        permission=permission,
        description=description,
        done=done,
        each=each,
        selection=selection,
        label=label,
        confirm=confirm,
        ask_reason=ask_reason,
        title=title,
        message=message,
        button=button,
    )
