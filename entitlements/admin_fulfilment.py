"""The physical-gift fulfilment queue (views of the grants console, mixed into
`GrantAdmin`): gifts waiting to ship and shipped, oldest first, without addresses; and
one gift's fulfilment page, where an operator allowed to handle grants
(`entitlements.change_grant`) reads the delivery address (decrypted for the page only,
never listed, logged or put in a URL; each reading recorded in the audit log), marks
the gift shipped with its tracking number and later delivered — each after a
confirmation, through `services.grant_ship` and `services.grant_deliver`, whose
refusals are shown as they are."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from riskcontrol.console.confirm import confirmed
from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, ValidationFailed

from .models import Grant
from .services import grant_address_read, grant_deliver, grant_ship

QUEUE_STATES = (Grant.Fulfilment.WAITING, Grant.Fulfilment.SHIPPED)


class GrantFulfilmentViews:
    """`fulfilment/` (the queue) and `<pk>/fulfilment/` (one gift)."""

    def has_fulfil_permission(self, request) -> bool:
        return request.user.has_perm("entitlements.change_grant")

    def fulfilment_urls(self):
        return [
            path(
                "fulfilment/",
                self.admin_site.admin_view(self.fulfilment_queue_view),
                name="entitlements_grant_fulfilment_queue",
            ),
            path(
                "<int:pk>/fulfilment/",
                self.admin_site.admin_view(self.fulfilment_view),
                name="entitlements_grant_fulfilment",
            ),
        ]

    def _context(self, request: HttpRequest, title: str, **extra) -> dict:
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "subtitle": None,
            **extra,
        }

    def fulfilment_queue_view(self, request: HttpRequest):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        state = request.GET.get("state", Grant.Fulfilment.WAITING)
        if state not in QUEUE_STATES:
            state = Grant.Fulfilment.WAITING
        grants = (
            Grant.objects.filter(fulfilment=state, status=Grant.Status.PENDING)
            .select_related("member", "benefit", "parent")
            .order_by("id")
        )
        page = Paginator(grants, 100).get_page(request.GET.get("p"))
        counts = {
            key: Grant.objects.filter(fulfilment=key, status=Grant.Status.PENDING).count()
            for key in QUEUE_STATES
        }
        tabs = [
            {
                "state": key,
                "label": Grant.Fulfilment(key).label,
                "count": counts[key],
                "current": key == state,
            }
            for key in QUEUE_STATES
        ]
        context = self._context(
            request,
            gettext("Physical gifts to fulfil"),
            page=page,
            state=state,
            tabs=tabs,
            grants_url=reverse("admin:entitlements_grant_changelist"),
        )
        return TemplateResponse(request, "admin/entitlements/grant/fulfilment_queue.html", context)

    @sensitive_variables("address")
    def fulfilment_view(self, request: HttpRequest, pk: int):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        grant = get_object_or_404(
            Grant.objects.select_related("member", "benefit", "parent"), pk=pk
        )
        if not grant.fulfilment:
            raise Http404  # not a physical gift: nothing to fulfil
        allowed = self.has_fulfil_permission(request)
        here = reverse("admin:entitlements_grant_fulfilment", args=[grant.pk])
        step = request.POST.get("step", "") if request.method == "POST" else ""
        tracking = request.POST.get("tracking_number", "").strip()
        errors: dict[str, list[str]] = {}
        confirm = None
        if step:
            if not allowed:
                raise PermissionDenied
            if step == "ship" and not tracking:
                errors["tracking_number"] = [gettext("Enter the parcel's tracking number.")]
            elif step in ("ship", "deliver") and not confirmed(request):
                confirm = step
            elif step in ("ship", "deliver"):
                done = self._move(request, grant, step, tracking, errors)
                if done:
                    return HttpResponseRedirect(here)
        address = ""
        if allowed and grant.address_sealed:
            address = grant_address_read(grant=grant, actor=Actor.for_user(request.user, request))
        context = self._context(
            request,
            gettext("Fulfilment of grant #%(id)s") % {"id": grant.pk},
            original=grant,
            allowed=allowed,
            address=address,
            tracking=tracking,
            errors=errors,
            confirm=confirm,
            detail_url=reverse("admin:entitlements_grant_change", args=[grant.pk]),
            queue_url=reverse("admin:entitlements_grant_fulfilment_queue")
            + f"?state={grant.fulfilment}"
            if grant.fulfilment in QUEUE_STATES
            else reverse("admin:entitlements_grant_fulfilment_queue"),
        )
        return TemplateResponse(request, "admin/entitlements/grant/fulfilment.html", context)

    def _move(self, request, grant: Grant, step: str, tracking: str, errors: dict) -> bool:
        actor = Actor.for_user(request.user, request)
        try:
            if step == "ship":
                grant_ship(grant=grant, tracking_number=tracking, actor=actor)
                said = gettext("Grant #%(id)s is marked shipped.")
            else:
                grant_deliver(grant=grant, actor=actor)
                said = gettext("Grant #%(id)s is marked delivered.")
        except ValidationFailed as error:
            for field, found in error.errors.items():
                errors.setdefault(field, []).extend(str(message) for message in found)
            return False
        except DomainError as error:
            self.message_user(request, str(error.detail), messages.WARNING)
            return True
        self.message_user(request, said % {"id": grant.pk}, messages.SUCCESS)
        return True
