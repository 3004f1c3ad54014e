"""The console's admin site: business sections first, the technical ones under a
"System" heading, and its own 404 page for every unknown console address.

Installed as Django's default admin site through `ConsoleAdminConfig` (in
`INSTALLED_APPS` instead of `django.contrib.admin`), so `admin.site` and every
`@admin.register` are this site. It lives beside `console/`, not in it: settings load this
module before any model exists, and `console/__init__` imports the auth models.

Which sections are business ones is declared by the apps, not known here: an app's
`AppConfig` sets `console_order` (an int, lowest first); every app without one (users
and groups, login attempts, periodic tasks, partner access) is a system section, shown
after the business ones in Django's usual alphabetical order.
"""

from __future__ import annotations

from functools import update_wrapper

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

BUSINESS = "business"
SYSTEM = "system"
NOT_FOUND_TEMPLATE = "admin/console_not_found.html"


class MissingObjectIsNotFound:
    """Mixed into every model admin of the console: an unknown or malformed id in a change,
    delete or history address answers the console's 404 page. Django's default redirects
    home with "… with ID “<what was typed>” doesn't exist", which echoes whatever was
    pasted into the address (a voucher code, say) into a message."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404


def console_position(app_label: str) -> int | None:
    """The app's place among the business sections, or None for a system section."""
    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        return None
    return getattr(config, "console_order", None)


class ConsoleSite(admin.AdminSite):
    site_header = _("Quanyi operator console")
    site_title = _("Quanyi")
    index_title = _("Operations")

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, MissingObjectIsNotFound):
            admin_class = type(
                admin_class.__name__,
                (MissingObjectIsNotFound, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            position = console_position(app["app_label"])
            app["console_section"] = SYSTEM if position is None else BUSINESS
            app["console_position"] = position
        # Stable sort: within the system section Django's alphabetical order stays.
        app_list.sort(
            key=lambda app: (app["console_position"] is None, app["console_position"] or 0)
        )
        # The "System" heading goes above the first system section of a list that also has
        # business ones (not above the one section of an app's own page).
        if len(app_list) > 1:
            for app in app_list:
                if app["console_section"] == SYSTEM:
                    app["console_section_start"] = True
                    break
        return app_list

    def admin_view(self, view, cacheable=False):
        """Every console view, the catch-all for unknown addresses included: an `Http404`
        becomes the console's own 404 page, whatever DEBUG says (Django's technical 404
        page, which lists every console URL pattern, never shows here). Signing in is
        checked first, so someone signed out is sent to the login page as before."""

        def not_found_as_page(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return self.not_found(request)

        update_wrapper(not_found_as_page, view)
        return super().admin_view(not_found_as_page, cacheable)

    def not_found(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.each_context(request),
            "title": _("Page not found"),
            "subtitle": None,
        }
        request.current_app = self.name
        return TemplateResponse(request, NOT_FOUND_TEMPLATE, context, status=404)


class ConsoleAdminConfig(AdminConfig):
    """`django.contrib.admin` with `ConsoleSite` as its default site."""

    default_site = "riskcontrol.console_site.ConsoleSite"
