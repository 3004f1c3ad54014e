"""The console's "set tier by hand" page for one member (members.services.member_tier_set):
a tier, the last day it holds and a reason; the page also shows the member's tier
standing and tier history."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import ValidationFailed

from . import selectors
from .models import Member, Tier
from .services import member_tier_set


class ManualTierForm(forms.Form):
    tier = forms.ModelChoiceField(
        label=gettext_lazy("tier"), queryset=Tier.objects.order_by("rank"), empty_label=None
    )
    last_day = forms.DateField(
        label=gettext_lazy("last day"),
        help_text=gettext_lazy(
            "The manual tier holds through this day; the next day the member returns to "
            "the tier their growth value earns."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=200)

    def until(self) -> dt.datetime:
        """The first moment after the last day, in the platform time zone."""
        next_day = self.cleaned_data["last_day"] + dt.timedelta(days=1)
        return timezone.make_aware(dt.datetime.combine(next_day, dt.time.min))


def member_tier_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("members.change_member"):
        raise PermissionDenied
    member = get_object_or_404(Member.objects.select_related("tier"), pk=pk)
    form = ManualTierForm(request.POST or None, initial={"tier": member.tier_id})
    if request.method == "POST" and form.is_valid():
        try:
            member_tier_set(
                member=member,
                tier=form.cleaned_data["tier"],
                until=form.until(),
                reason=form.cleaned_data["reason"],
                actor=Actor.for_user(request.user, request),
            )
        except ValidationFailed as error:
            for field, problems in error.errors.items():
                form.add_error("last_day" if field == "until" else field, problems)
        else:
            model_admin.message_user(
                request,
                _("%(member)s holds %(tier)s by hand through %(day)s.")
                % {
                    "member": member.external_id,
                    "tier": form.cleaned_data["tier"].name,
                    "day": form.cleaned_data["last_day"].isoformat(),
                },
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:members_member_tier", args=[member.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Set tier by hand"),
        "opts": Member._meta,
        "original": member,
        "form": form,
        "standing": selectors.member_tier_progress(member=member),
    }
    return TemplateResponse(request, "admin/members/member/set_tier.html", context)
