"""The store clerk's page (/store/): check a code, redeem it, see today's redemptions.

Phones, tablets and PCs with USB barcode scanners (which type the code and press Enter)
or the phone's camera. Codes only ever travel in POST bodies.

The ideal redemption is scan → order amount (when the voucher has a minimum order or
takes a percentage off: Check asks for it) → Redeem. Every answer is a whole page (the
page works without JavaScript): a refusal keeps what was typed, code included, so the
clerk corrects it instead of scanning again; only a redemption clears the box. The
result stays on the page until the next Check or Redeem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from riskcontrol.core.actors import Actor
from riskcontrol.core.errors import DomainError, RateLimited, ValidationFailed
from riskcontrol.core.text import is_free_text_safe

from .models import StoreStaff
from .presentations import is_token
from .selectors import expires_text, staff_assignments, todays_redemptions
from .services import redemption_create, redemption_preview, redemption_reverse

SESSION_STORE = "clerk_store_id"
SESSION_LAST_SEEN = "clerk_last_seen"
LOGIN_URL = "/store/login/"


def clerk_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in staff only, and signed out after `STORE_IDLE_TIMEOUT_SECONDS` without a
    request: a phone or till left unattended must not keep redeeming for whoever picks it
    up. (The session itself ends after SESSION_COOKIE_AGE whatever the activity.)"""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(f"{LOGIN_URL}?next=/store/")
        now = int(time.time())
        # A fresh sign-in counts as activity: signing in again (here or in the console)
        # keeps the session's data, including an old last-seen time.
        last_login = request.user.last_login
        last_seen = max(
            request.session.get(SESSION_LAST_SEEN, now),
            int(last_login.timestamp()) if last_login else 0,
        )
        if now - last_seen > settings.STORE_IDLE_TIMEOUT_SECONDS:
            logout(request)
            return redirect(f"{LOGIN_URL}?next=/store/&idle=1")
        request.session[SESSION_LAST_SEEN] = now
        return view(request, *args, **kwargs)

    return wrapper


class ClerkLoginView(auth_views.LoginView):
    template_name = "store/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return "/store/"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.GET.get("idle"):
            minutes = max(1, settings.STORE_IDLE_TIMEOUT_SECONDS // 60)
            context["notice"] = _(
                "You were signed out after %(minutes)d minutes without activity."
            ) % {"minutes": minutes}
        return context


class RedeemForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code or QR"), max_length=256, strip=True)
    order_amount = forms.DecimalField(
        label=gettext_lazy("Order amount"),
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
    )
    order_ref = forms.CharField(label=gettext_lazy("Order number"), max_length=64, required=False)


def _current_assignment(request: HttpRequest) -> StoreStaff | None:
    assignments = list(staff_assignments(request.user))
    chosen = request.session.get(SESSION_STORE)
    for assignment in assignments:
        if assignment.store_id == chosen:
            return assignment
    if len(assignments) == 1:
        request.session[SESSION_STORE] = assignments[0].store_id
        return assignments[0]
    return None


def _page(request, assignment: StoreStaff, *, status: int = 200, **context) -> HttpResponse:
    store = assignment.store
    context = {
        "store": store,
        "is_manager": assignment.role == StoreStaff.Role.MANAGER,
        "has_several_stores": staff_assignments(request.user).count() > 1,
        "today": todays_redemptions(store),
        "form": context.pop("form", None) or RedeemForm(),
        **context,
    }
    response = render(request, "store/home.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _form_refusal(form: RedeemForm) -> str:
    """The first thing wrong with what was typed, as one sentence naming the field."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        if not label:
            return str(errors[0])
        return _("%(field)s: %(error)s") % {"field": label, "error": errors[0]}
    return ""


def _amount_prompt(preview) -> str:
    if preview.minimum:
        return _(
            "This voucher needs an order of at least %(minimum)s: enter the order amount, "
            "then Redeem."
        ) % {"minimum": preview.minimum}
    return _("The discount depends on the order: enter the order amount, then Redeem.")


def _refusal_text(error: DomainError) -> str:
    if isinstance(error, ValidationFailed) and error.errors:
        return " ".join(str(message) for messages in error.errors.values() for message in messages)
    messages = {
        "not_found": _("Unknown code. Check it and try again."),
        "rate_limited": _("Too many unknown codes. Wait %(minutes)d minutes, then try again."),
    }
    if error.code == "rate_limited":
        return messages["rate_limited"] % {"minutes": max(1, round(error.retry_after / 60))}
    if error.code in messages:
        return messages[error.code]
    return str(error.detail)


def _refusal_page(request, assignment: StoreStaff, error: DomainError, form=None) -> HttpResponse:
    """The page with a plain-language refusal, under the HTTP status the API would use."""
    status = error.status if error.status in (400, 403, 404, 429) else 409
    response = _page(
        request,
        assignment,
        form=form,
        status=status,
        refusal=_refusal_text(error),
        refusal_code=error.code,
        refusal_extra=error.extra,
        # The amount was missing or too low: the code stays, the amount is asked for.
        ask_amount=error.code == "below_minimum_order"
        or (isinstance(error, ValidationFailed) and "order_amount" in error.errors),
    )
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


def _invalid_form_page(request, assignment: StoreStaff, form: RedeemForm) -> HttpResponse:
    return _page(
        request,
        assignment,
        form=form,
        status=400,
        refusal=_form_refusal(form),
        ask_amount="order_amount" in form.errors,
    )


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, request)


@clerk_view
def home(request: HttpRequest) -> HttpResponse:
    assignment = _current_assignment(request)
    if assignment is None:
        return redirect("store-pick")
    return _page(request, assignment)


@clerk_view
def pick_store(request: HttpRequest) -> HttpResponse:
    assignments = list(staff_assignments(request.user))
    if request.method == "POST":
        chosen = request.POST.get("store")
        if any(str(a.store_id) == chosen for a in assignments):
            request.session[SESSION_STORE] = int(chosen)
            return redirect("store-home")
    return render(request, "store/pick_store.html", {"assignments": assignments})


@sensitive_post_parameters("code")
@require_POST
@clerk_view
def check(request: HttpRequest) -> HttpResponse:
    assignment = _current_assignment(request)
    if assignment is None:
        return redirect("store-pick")
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _invalid_form_page(request, assignment, form)
    try:
        preview = redemption_preview(
            store=assignment.store,
            actor=_actor(request),
            text=form.cleaned_data["code"],
            order_amount=form.cleaned_data["order_amount"],
        )
    except DomainError as error:
        return _refusal_page(request, assignment, error, form)
    # Asked unless something other than the amount stands in the way.
    ask_amount = preview.needs_order_amount and (
        preview.refusal is None or preview.refusal.code == "below_minimum_order"
    )
    return _page(
        request,
        assignment,
        form=form,
        preview=preview,
        expires=expires_text(preview.voucher),
        refusal=_refusal_text(preview.refusal) if preview.refusal else "",
        refusal_code=preview.refusal.code if preview.refusal else "",
        ask_amount=ask_amount,
        amount_prompt=_amount_prompt(preview) if ask_amount else "",
    )


@sensitive_post_parameters("code")
@require_POST
@clerk_view
def redeem(request: HttpRequest) -> HttpResponse:
    assignment = _current_assignment(request)
    if assignment is None:
        return redirect("store-pick")
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _invalid_form_page(request, assignment, form)
    text = form.cleaned_data["code"]
    try:
        redemption = redemption_create(
            store_code=assignment.store.code,
            code=None if is_token(text) else text,
            token=text if is_token(text) else None,
            order_amount=form.cleaned_data["order_amount"],
            order_ref=form.cleaned_data["order_ref"],
            actor=_actor(request),
        )
    except DomainError as error:
        return _refusal_page(request, assignment, error, form)
    return _page(request, assignment, success=redemption)


@require_POST
@clerk_view
def reverse(request: HttpRequest, redemption_id: int) -> HttpResponse:
    assignment = _current_assignment(request)
    if assignment is None:
        return redirect("store-pick")
    if assignment.role != StoreStaff.Role.MANAGER:
        return _page(
            request, assignment, status=403, refusal=_("Only a store manager can reverse.")
        )
    reason = request.POST.get("reason", "").strip()
    if not is_free_text_safe(reason):
        return _page(
            request,
            assignment,
            status=400,
            refusal=_("The reason must not contain control characters."),
        )
    reason = reason or _("reversed at the till")
    try:
        reversed_redemption = redemption_reverse(
            redemption_id=redemption_id,
            reason=reason,
            actor=_actor(request),
            bound_store_code=assignment.store.code,
        )
    except DomainError as error:
        return _page(
            request, assignment, status=409, refusal=_refusal_text(error), refusal_code=error.code
        )
    return _page(request, assignment, reversed=reversed_redemption)
