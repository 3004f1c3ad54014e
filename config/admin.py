"""Third-party console pages in the operator's language.

Django's admin autodiscovery loads this module after every app's own `admin.py` (config is
the last installed app). What gettext alone cannot reach is adjusted here, never in
site-packages:

- django-axes: its section name, its records' titles (English f-strings in its models)
  and the attempts column; its field and model names are plain msgids in our .po.
- django-celery-beat: the task field, our task names and schedule names, the crontab's
  human-readable form (cron-descriptor, in the reader's language).
- django.contrib.auth: permission names, which Django stores in English at migrate time
  ("Can add voucher"), the role groups' names, and the auto-created relationship rows on
  a delete page.
"""

from __future__ import annotations

from axes import admin as axes_admin
from axes.conf import settings as axes_settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from cron_descriptor import FormatException, MissingFieldException, Options, get_description
from cron_descriptor import WrongArgumentException as CronArgumentError
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, Permission, User
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from riskcontrol.console.roles import AUDITOR, OPERATOR, SECRET_CUSTODIAN, STORE_CLERK

# --- django-axes -----------------------------------------------------------------------

apps.get_app_config("axes").verbose_name = _("Login attempts")


def _when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else ""


def _attempt_str(self: AccessAttempt) -> str:
    return gettext("Sign-in attempts of %(username)s since %(time)s") % {
        "username": self.username,
        "time": _when(self.attempt_time),
    }


def _failure_str(self: AccessFailureLog) -> str:
    return gettext("Failed sign-in of %(username)s at %(time)s from %(ip)s") % {
        "username": self.username,
        "time": _when(self.attempt_time),
        "ip": self.ip_address,
    }


def _log_str(self: AccessLog) -> str:
    return gettext("Sign-in of %(username)s at %(time)s") % {
        "username": self.username,
        "time": _when(self.attempt_time),
    }


AccessAttempt.__str__ = _attempt_str
AccessFailureLog.__str__ = _failure_str
AccessLog.__str__ = _log_str


class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    @admin.display(description=pgettext_lazy("sign-in attempts", "status"))
    def status(self, obj: AccessAttempt):
        left = axes_settings.AXES_FAILURE_LIMIT - obj.failures_since_start
        if left > 0:
            return gettext("%(count)d attempts left") % {"count": left}
        return gettext("Locked Out")


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AccessAttemptAdmin)

# --- django-celery-beat ----------------------------------------------------------------

# Our tasks and the schedule entries of settings.CELERY_BEAT_SCHEDULE, by name.
TASK_LABELS = {
    "riskcontrol.tasks.idempotency_purge_expired": _("Purge expired idempotency keys"),
    "vouchers.tasks.card_stock_import_task": _("Import card stock"),
    "vouchers.tasks.card_stock_validate_task": _("Check a card-stock file"),
    "vouchers.tasks.card_stock_uploads_cleanup_task": _("Clean up card-stock uploads"),
    "vouchers.tasks.voucher_batch_generate_task": _("Generate a batch's codes"),
    "vouchers.tasks.vouchers_expire_due_task": _("Expire vouchers past their end"),
    "vouchers.tasks.stale_jobs_resume_task": _("Resume stalled jobs"),
    "members.tasks.tiers_review_task": _("Review member tiers"),
    "members.tasks.lifecycle_recompute_task": _("Recompute lifecycle stages"),
    "members.tasks.points_expire_task": _("Expire points past their validity"),
    "members.tasks.segments_tag_scheduled": _("Tag the members of nightly segments"),
    "entitlements.tasks.upgrade_grants_task": _("Grant a tier's benefits on upgrade"),
    "entitlements.tasks.upgrade_grants_missing_task": _("Grant missed upgrade benefits"),
    "entitlements.tasks.period_grants_task": _("Grant the tier benefits of the period"),
    "entitlements.tasks.period_grants_shard_task": _(
        "Grant the tier benefits of the period (part)"
    ),
}
SCHEDULE_LABELS = {
    "purge-expired-idempotency-keys": TASK_LABELS["riskcontrol.tasks.idempotency_purge_expired"],
    "card-stock-uploads-cleanup": TASK_LABELS["vouchers.tasks.card_stock_uploads_cleanup_task"],
    "expire-vouchers": TASK_LABELS["vouchers.tasks.vouchers_expire_due_task"],
    "resume-stale-jobs": TASK_LABELS["vouchers.tasks.stale_jobs_resume_task"],
    "members-tiers-review": TASK_LABELS["members.tasks.tiers_review_task"],
    "members-lifecycle-recompute": TASK_LABELS["members.tasks.lifecycle_recompute_task"],
    "expire-points": TASK_LABELS["members.tasks.points_expire_task"],
    "segments-tag-scheduled": TASK_LABELS["members.tasks.segments_tag_scheduled"],
    "benefits-period-grants": TASK_LABELS["entitlements.tasks.period_grants_task"],
    "benefits-upgrade-grants": TASK_LABELS["entitlements.tasks.upgrade_grants_missing_task"],
}


def task_label(name: str) -> str:
    return str(TASK_LABELS.get(name, name))


def periodic_task_label(task: PeriodicTask) -> str:
    return str(SCHEDULE_LABELS.get(task.name, task.name))


_periodic_task_str = PeriodicTask.__str__


def _periodic_str(self: PeriodicTask) -> str:
    text = _periodic_task_str(self)
    return text.replace(self.name, periodic_task_label(self), 1) if self.name else text


PeriodicTask.__str__ = _periodic_str


def _human_readable(self: CrontabSchedule) -> str:
    expression = " ".join(
        [self.minute, self.hour, self.day_of_month, self.month_of_year, self.day_of_week]
    )
    options = Options()
    options.use_24hour_time_format = True
    options.locale_code = "zh_CN" if (get_language() or "").startswith("zh") else "en_US"
    try:
        return f"{get_description(expression, options)} {self.timezone}"
    except (MissingFieldException, FormatException, CronArgumentError):
        return f"{expression} {self.timezone}"


CrontabSchedule.human_readable = property(_human_readable)


class _TaskSelect(beat_admin.TaskSelectWidget):
    def tasks_as_choices(self):
        return tuple(
            (value, task_label(value) if value else "") for value, _x in super().tasks_as_choices()
        )


class _PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    regtask = beat_admin.TaskChoiceField(
        label=_("Task (registered)"), required=False, widget=_TaskSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Name")


PeriodicTask._meta.get_field("task").verbose_name = _("Task")


class _TaskFilter(admin.SimpleListFilter):
    title = _("Task")
    parameter_name = "task"

    def lookups(self, request, model_admin):
        names = PeriodicTask.objects.order_by("task").values_list("task", flat=True).distinct()
        return [(name, task_label(name)) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(task=self.value()) if self.value() else queryset


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = _PeriodicTaskForm
    list_display = (
        "label",
        "enabled",
        "schedule",
        "interval",
        "start_time",
        "last_run_at",
        "one_off",
    )
    list_filter = ["enabled", "one_off", _TaskFilter, "start_time", "last_run_at"]

    @admin.display(description=_("Name"), ordering="name")
    def label(self, obj: PeriodicTask) -> str:
        return periodic_task_label(obj)

    @admin.display(description=_("Schedule"))
    def schedule(self, obj: PeriodicTask):
        return obj.scheduler

    @admin.display(description=_("Crontab in words"))
    def crontab_translation(self, obj: PeriodicTask):
        return obj.crontab.human_readable if obj.crontab else ""


class _TasksOfSchedule(beat_admin.PeriodicTaskInline):
    fields = ("label", "task_name", "args", "kwargs")
    readonly_fields = fields

    @admin.display(description=_("Name"))
    def label(self, obj: PeriodicTask) -> str:
        return periodic_task_label(obj)

    @admin.display(description=_("Task"))
    def task_name(self, obj: PeriodicTask) -> str:
        return task_label(obj.task)


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    inlines = [_TasksOfSchedule]
    list_display = ("__str__", "in_words")
    fields = (
        "in_words",
        *(f for f in beat_admin.CrontabScheduleAdmin.fields if f != "human_readable"),
    )
    readonly_fields = ("in_words",)

    @admin.display(description=_("Crontab in words"))
    def in_words(self, obj: CrontabSchedule) -> str:
        return obj.human_readable if obj.pk else ""


for _model, _admin in ((PeriodicTask, PeriodicTaskAdmin), (CrontabSchedule, CrontabScheduleAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _admin)
for _model in (IntervalSchedule, SolarSchedule, ClockedSchedule):
    _base = type(admin.site._registry[_model])
    admin.site.unregister(_model)
    admin.site.register(_model, type(_base.__name__, (_base,), {"inlines": [_TasksOfSchedule]}))

# --- django.contrib.auth ---------------------------------------------------------------

_DEFAULT_PERMISSIONS = {
    "add": _("Can add %s"),
    "change": _("Can change %s"),
    "delete": _("Can delete %s"),
    "view": _("Can view %s"),
}


def permission_label(permission: Permission) -> str:
    content_type = permission.content_type
    model = content_type.model_class()
    subject = model._meta.verbose_name if model else content_type.model
    action = permission.codename.split("_", 1)[0]
    if model and permission.codename == f"{action}_{model._meta.model_name}":
        name = _DEFAULT_PERMISSIONS.get(action, permission.name)
        name = name % subject if action in _DEFAULT_PERMISSIONS else gettext(name)
    else:
        name = gettext(permission.name)  # our own permissions' names are msgids
    try:
        section = apps.get_app_config(content_type.app_label).verbose_name
    except LookupError:
        section = content_type.app_label
    return f"{section} | {subject} | {name}"


# The role groups (riskcontrol.console.roles) keep their names as records (code finds them
# by name); people read them in their language, wherever a group is shown.
ROLE_LABELS = {
    OPERATOR: pgettext_lazy("role", "Operator"),
    STORE_CLERK: pgettext_lazy("role", "Store clerk"),
    SECRET_CUSTODIAN: pgettext_lazy("role", "Secret custodian"),
    AUDITOR: pgettext_lazy("role", "Auditor"),
}


def _group_str(self: Group) -> str:
    return str(ROLE_LABELS.get(self.name, self.name))


Group.__str__ = _group_str


class _PermissionChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Permission) -> str:
        return permission_label(obj)


class _TranslatedPermissions:
    """Permission menus by their translated names; a delete page without Django's
    auto-created 'X-permission relationship' rows (untranslatable object names)."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in {"permissions", "user_permissions"}:
            kwargs["form_class"] = _PermissionChoices
            # The package's own key model is unused (our keys belong to partner clients).
            kwargs["queryset"] = Permission.objects.exclude(
                content_type__app_label="rest_framework_api_key"
            ).select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        through = [
            field.remote_field.through._meta
            for field in self.model._meta.many_to_many
            if field.remote_field.through._meta.auto_created
        ]
        prefixes = tuple(f"{capfirst(meta.verbose_name)}: " for meta in through)
        plurals = {str(meta.verbose_name_plural) for meta in through}

        def keep(items):
            return [
                keep(item) if isinstance(item, list) else item
                for item in items
                if isinstance(item, list) or not str(item).startswith(prefixes)
            ]

        counts = {name: n for name, n in counts.items() if str(name) not in plurals}
        return keep(deleted), counts, perms_needed, protected


class _PasswordForm(auth_admin.AdminPasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "usable_password" in self.fields:
            self.fields["usable_password"].help_text = _(
                "Whether the user can sign in with a password. Without one, the current "
                "password is lost."
            )


class GroupAdmin(_TranslatedPermissions, auth_admin.GroupAdmin):
    pass


class UserAdmin(_TranslatedPermissions, auth_admin.UserAdmin):
    change_password_form = _PasswordForm


for _model, _admin in ((Group, GroupAdmin), (User, UserAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _admin)


# --- Third-party msgids that their packages leave untranslated in zh_Hans (or translate
# with English left in): listed here so that makemessages keeps them in our .po, whose
# translations win over the packages' own (LOCALE_PATHS come last).
_THIRD_PARTY_MSGIDS = (
    # Django 5.2 admin
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),  # noqa: RUF001
    # django-axes
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Access Attempt"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Not set"),
    # django-celery-beat
    gettext_noop("Arguments"),
    gettext_noop("Execution Options"),
    gettext_noop("Schedule"),
    gettext_noop("Periodic Tasks Using This Schedule"),
    gettext_noop('Cron Minutes to Run. Use "*" for "all". (Example: "0,30")'),
    gettext_noop('Cron Hours to Run. Use "*" for "all". (Example: "8,20")'),
    gettext_noop('Cron Days Of The Month to Run. Use "*" for "all". (Example: "1,15")'),
    gettext_noop('Cron Months (1-12) Of The Year to Run. Use "*" for "all". (Example: "1,12")'),
    gettext_noop(
        'Cron Days Of The Week to Run. Use "*" for "all", Sunday is 0 or 7, Monday is 1. '
        '(Example: "0,5")'
    ),
    gettext_noop("Timezone to Run the Cron Schedule on. Default is UTC."),
    gettext_noop(
        'The Name of the Celery Task that Should be Run.  (Example: "proj.tasks.import_contacts")'
    ),
    gettext_noop('JSON encoded positional arguments (Example: ["arg1", "arg2"])'),
    gettext_noop('JSON encoded keyword arguments (Example: {"argument": "value"})'),
    gettext_noop("Queue defined in CELERY_TASK_QUEUES. Leave None for default queuing."),
    gettext_noop("Override Exchange for low-level AMQP routing"),
    gettext_noop("Override Routing Key for low-level AMQP routing"),
    gettext_noop("AMQP Message Headers"),
    gettext_noop("JSON encoded message headers for the AMQP message."),
    gettext_noop(
        "Priority Number between 0 and 255. Supported by: RabbitMQ, Redis (priority "
        "reversed, 0 is highest)."
    ),
    gettext_noop("If True, the schedule will only run the task a single time"),
    gettext_noop("Set to False to disable the schedule"),
    gettext_noop(
        "Datetime that the schedule last triggered the task to run. Reset to None if enabled "
        "is set to False."
    ),
    # djangorestframework-api-key
    gettext_noop("A free-form name for the API key. Need not be unique. 50 characters max."),
    gettext_noop("Once API key expires, clients cannot use it anymore."),
    gettext_noop(
        "If the API key is revoked, clients cannot use it anymore. (This cannot be undone.)"
    ),
    # django-import-export
    gettext_noop("Select all"),
)
