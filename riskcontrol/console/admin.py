from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from kombu.exceptions import KombuError
from rest_framework_api_key.admin import APIKey

from ..core.actors import Actor
from ..core.stamped import ACTOR_KINDS
from ..models import AuditEvent, IdempotencyKey, PartnerClient, PartnerClientKey, RiskAlert
from ..partners.scopes import SCOPES
from ..services import (
    partner_client_create,
    partner_client_delete,
    partner_client_update,
    partner_key_issue,
    partner_keys_revoke,
)
from ..tasks import idempotency_purge_expired
from .confirm import confirmed_action
from .readable import (
    AUDIT_ACTIONS,
    ActionFilter,
    ActorKindFilter,
    SubjectFilter,
    readable_fields,
    subject_name,
)
from .readonly import ReadOnlyAdmin

# The package's own key model is unused: our keys belong to partner clients.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


def scope_label(scope: str) -> str:
    """A scope for people: what it allows, then the scope itself as the code a partner
    sends (never translated)."""
    return format_html("{} <code>{}</code>", SCOPES.get(scope, ""), scope)


class PartnerClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=lambda: [(scope, scope_label(scope)) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = PartnerClient
        fields = ["name", "scopes", "store_code", "active", "notes"]


class PartnerClientKeyInline(admin.TabularInline):
    model = PartnerClientKey
    fields = ["key_prefix", "key_name", "key_created", "expiry_date", "key_revoked"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = _("API keys (only the prefix is stored in clear)")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    # djangorestframework-api-key gives these fields no translatable names.
    @admin.display(description=_("prefix"))
    def key_prefix(self, obj: PartnerClientKey) -> str:
        return format_html("<code>{}</code>", obj.prefix)

    @admin.display(description=_("name"))
    def key_name(self, obj: PartnerClientKey) -> str:
        return obj.name

    @admin.display(description=_("created at"))
    def key_created(self, obj: PartnerClientKey):
        return obj.created

    @admin.display(description=_("revoked"), boolean=True)
    def key_revoked(self, obj: PartnerClientKey) -> bool:
        return obj.revoked


class IssueKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key label"), max_length=50, required=False, help_text=_("e.g. 'POS 2026-11'")
    )
    expiry_date = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        help_text=_("Leave empty for a key that does not expire."),
    )


@admin.register(PartnerClient)
class PartnerClientAdmin(admin.ModelAdmin):
    form = PartnerClientForm
    list_display = ["name", "scope_list", "store_code", "active", "live_keys", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "store_code"]
    inlines = [PartnerClientKeyInline]
    actions = ["revoke_keys"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: PartnerClient) -> str:
        return format_html_join(mark_safe("<br>"), "{}", ((scope_label(s),) for s in obj.scopes))

    @admin.display(description=_("live keys"))
    def live_keys(self, obj: PartnerClient) -> int:
        return obj.live_key_count

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(live_key_count=Count("keys", filter=Q(keys__revoked=False)))
        )

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        actor = Actor.for_user(request.user, request)
        if change:
            partner_client_update(
                client=obj,
                name=data["name"],
                scopes=data["scopes"],
                store_code=data["store_code"],
                active=data["active"],
                notes=data["notes"],
                actor=actor,
            )
            return
        created = partner_client_create(
            name=data["name"],
            scopes=data["scopes"],
            store_code=data["store_code"],
            notes=data["notes"],
            active=data["active"],
            actor=actor,
        )
        obj.pk = created.pk
        obj.created_at = created.created_at

    def delete_model(self, request, obj) -> None:
        partner_client_delete(client=obj, actor=Actor.for_user(request.user, request))

    def delete_queryset(self, request, queryset) -> None:
        actor = Actor.for_user(request.user, request)
        for client in queryset:
            partner_client_delete(client=client, actor=actor)

    def response_add(self, request, obj, post_url_continue=None):
        # A new client is useless without a key: go straight to issuing one.
        return HttpResponseRedirect(
            reverse("admin:riskcontrol_partnerclient_issue_key", args=[obj.pk])
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/issue-key/",
                self.admin_site.admin_view(self.issue_key_view),
                name="riskcontrol_partnerclient_issue_key",
            ),
            *super().get_urls(),
        ]

    def has_issue_key_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("riskcontrol.issue_partner_key")

    def issue_key_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        if not self.has_issue_key_permission(request):
            raise PermissionDenied
        client = get_object_or_404(PartnerClient, pk=pk)
        raw_key = None
        form = IssueKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            _key, raw_key = partner_key_issue(
                client=client,
                name=form.cleaned_data["name"],
                expiry_date=form.cleaned_data["expiry_date"],
                actor=Actor.for_user(request.user, request),
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue API key"),
            "opts": self.model._meta,
            "client": client,
            "form": form,
            "raw_key": raw_key,
        }
        response = TemplateResponse(
            request, "admin/riskcontrol/partnerclient/issue_key.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "issue_key_url": reverse("admin:riskcontrol_partnerclient_issue_key", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    revoke_keys = confirmed_action(
        service=partner_keys_revoke,
        permission="issue_key",
        description=_("Revoke all API keys of the selected clients"),
        each=lambda client: {"client": client},
        label=lambda client: client.name,
        done=lambda client, count: (
            ngettext(
                "%(client)s: %(count)d key revoked.",
                "%(client)s: %(count)d keys revoked.",
                count,
            )
            % {"client": client.name, "count": count}
        ),
        ask_reason=False,
        title=_("Revoke API keys?"),
        message=_(
            "Every key of these clients stops working immediately. This cannot be "
            "undone; issue new keys afterwards if the clients should continue."
        ),
        button=_("Yes, revoke the keys"),
    )


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "client", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state", "client"]
    search_fields = ["key"]
    fields = [
        "client",
        "key",
        "fingerprint",
        "state",
        "response_status",
        "created_at",
        "expires_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "purge-expired/",
                self.admin_site.admin_view(self.purge_expired_view),
                name="riskcontrol_idempotencykey_purge_expired",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_purge": self.has_delete_permission(request)}
        return super().changelist_view(request, extra_context)

    def purge_expired_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """Runs in the background worker, like the hourly beat schedule does."""
        if request.method != "POST" or not self.has_delete_permission(request):
            raise PermissionDenied
        try:
            idempotency_purge_expired.delay_on_commit()
        except (KombuError, OSError):  # the broker is down or hung: nothing was started
            self.message_user(
                request,
                _("The background worker cannot be reached right now. Try again later."),
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                _("Purging expired keys in the background; reload this page in a moment."),
                messages.INFO,
            )
        return HttpResponseRedirect(reverse("admin:riskcontrol_idempotencykey_changelist"))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: audit events are written by services, never edited. Shown in the
    reader's language: the record's kind, the action, the actor and the changes."""

    list_display = ["created_at", "subject_name", "subject_label", "action_name", "actor_name"]
    list_filter = [SubjectFilter, ActionFilter, ActorKindFilter]
    search_fields = ["=subject_id", "subject_label", "actor_label"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "subject_name",
        "subject_id",
        "subject_label",
        "action_name",
        "changes_list",
        "actor_kind_name",
        "actor_name",
        "user",
        "partner_client",
        "context_list",
    ]
    readonly_fields = fields

    @admin.display(description=_("subject"), ordering="subject")
    def subject_name(self, obj: AuditEvent) -> str:
        return subject_name(obj.subject)

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, obj: AuditEvent) -> str:
        return str(AUDIT_ACTIONS.get(obj.action, obj.action))

    @admin.display(description=_("actor"), ordering="actor_label")
    def actor_name(self, obj: AuditEvent) -> str:
        return obj.actor_display

    @admin.display(description=_("actor kind"))
    def actor_kind_name(self, obj: AuditEvent) -> str:
        return str(ACTOR_KINDS.get(obj.actor_kind, obj.actor_kind))

    @admin.display(description=_("changes"))
    def changes_list(self, obj: AuditEvent) -> str:
        return readable_fields(obj.changes, subject=obj.subject)

    @admin.display(description=_("context"))
    def context_list(self, obj: AuditEvent) -> str:
        return readable_fields(obj.context)


@admin.register(RiskAlert)
class RiskAlertAdmin(ReadOnlyAdmin):
    """Alerts are raised by the system (a store-wide guessing burst …) and only read here."""

    list_display = ["created_at", "kind", "subject", "count", "detail"]
    list_filter = ["kind"]
    fields = ["created_at", "kind", "subject", "count", "detail"]
    readonly_fields = fields
    date_hierarchy = "created_at"
