"""The benefit catalog's console page (registered by `entitlements/admin.py`): the list
with kind, active window, points price, budget, stock per source and the fallback chain
(stock for the whole page in one pass through `sources.stock_by_source`), and the change
form with its sources, fallbacks and pack items as ordered inlines. Every rule about
what makes a valid benefit is `services.benefit_errors`; the form only places its
sentences on the field or the row they are about."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.regions import validate_province_code
from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record

from .models import Benefit, BenefitFallback, BenefitSource, PackItem
from .services import benefit_errors
from .sources import source_for, stock_by_source

LIST_KEYS = ("sources", "fallbacks", "items")


def benefit_status(benefit: Benefit, now=None) -> str:
    """The active window in words: active, switched off, starts …, ended …."""
    now = now or timezone.now()
    if not benefit.active:
        return gettext("switched off")
    if benefit.active_from and now < benefit.active_from:
        return gettext("starts %(when)s") % {
            "when": timezone.localtime(benefit.active_from).strftime("%Y-%m-%d %H:%M")
        }
    if benefit.active_until and now >= benefit.active_until:
        return gettext("ended %(when)s") % {
            "when": timezone.localtime(benefit.active_until).strftime("%Y-%m-%d %H:%M")
        }
    return gettext("active")


def budget_text(benefit: Benefit) -> str:
    if benefit.budget is None:
        return gettext("%(used)s used, no cap") % {"used": benefit.budget_used}
    return f"{benefit.budget_used} / {benefit.budget}"


def catalog_stock(benefits: list[Benefit]) -> None:
    """Attach `source_rows` ([(label, stock)]) and `fallback_rows` ([(benefit, total
    stock or None)]) to each benefit, for the benefits and their fallbacks together:
    one query for the links, one for the sources, one round per source kind for stock."""
    ids = {benefit.pk for benefit in benefits}
    links = list(
        BenefitFallback.objects.filter(benefit_id__in=ids)
        .select_related("fallback")
        .order_by("benefit_id", "position", "id")
    )
    every = ids | {link.fallback_id for link in links}
    sources = list(
        BenefitSource.objects.filter(benefit_id__in=every)
        .select_related("batch")
        .order_by("benefit_id", "position", "id")
    )
    stock = stock_by_source(sources)
    rows: dict[int, list[tuple[str, int | None]]] = {benefit_id: [] for benefit_id in every}
    for source in sources:
        rows[source.benefit_id].append((source_for(source).label(source), stock.get(source.pk)))
    chains: dict[int, list[tuple[Benefit, int | None]]] = {benefit_id: [] for benefit_id in ids}
    for link in links:
        counts = [n for _label, n in rows[link.fallback_id]]
        total = None if not counts or None in counts else sum(counts)
        chains[link.benefit_id].append((link.fallback, total))
    for benefit in benefits:
        benefit.source_rows = rows[benefit.pk]
        benefit.fallback_rows = chains[benefit.pk]


def catalog_snapshot(benefit_id: int) -> dict:
    """A benefit's fields and lists, for its audit events."""
    benefit = Benefit.objects.get(pk=benefit_id)
    fields = {
        field.name: getattr(benefit, field.attname)
        for field in Benefit._meta.concrete_fields
        if field.name not in ("id", "budget_used", "created_at", "updated_at")
    }
    return {
        **fields,
        "sources": [
            source.batch.code if source.batch_id else source.kind
            for source in benefit.sources.select_related("batch").order_by("position", "id")
        ],
        "fallbacks": [
            link.fallback.code
            for link in benefit.fallback_links.select_related("fallback").order_by("position", "id")
        ],
        "items": [
            f"{item.item.code} x {item.quantity}"
            for item in benefit.items.select_related("item").order_by("position", "id")
        ],
    }


class CatalogChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        catalog_stock(list(self.result_list))


class ActiveNowFilter(admin.SimpleListFilter):
    title = _("active now")
    parameter_name = "active_now"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        live = (
            Q(active=True)
            & (Q(active_from__isnull=True) | Q(active_from__lte=now))
            & (Q(active_until__isnull=True) | Q(active_until__gt=now))
        )
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


class RegionFilter(admin.SimpleListFilter):
    title = _("region")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        regions = (
            Benefit.objects.exclude(region="")
            .order_by("region")
            .values_list("region", flat=True)
            .distinct()
        )
        return [("-", _("everywhere")), *((region, region) for region in regions)]

    def queryset(self, request, queryset):
        if self.value() == "-":
            return queryset.filter(region="")
        if self.value():
            return queryset.filter(region=self.value())
        return queryset


class BenefitForm(forms.ModelForm):
    image_url = forms.URLField(
        label=_("image"), required=False, max_length=200, assume_scheme="https"
    )

    class Meta:
        model = Benefit
        fields = [
            "code",
            "name",
            "kind",
            "priority",
            "description",
            "image_url",
            "face_value",
            "currency",
            "cost",
            "points_price",
            "exchange_limit",
            "exchange_period",
            "active",
            "active_from",
            "active_until",
            "region",
            "segment",
            "budget",
            "units_left",
            "valid_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "region" in self.fields:
            self.fields["region"].validators.append(validate_province_code)
        if self.instance.pk and "code" in self.fields:
            self.fields["code"].help_text = _(
                "Partners and the program file name the benefit by its code."
            )

    def _post_clean(self):
        super()._post_clean()
        # The field rules (the lists are judged with the inlines, see CatalogFormSet).
        for field, messages in benefit_errors(self.instance).items():
            for message in messages:
                if field in self.fields and field not in self.errors:
                    self.add_error(field, message)
                elif field not in self.fields:
                    self.add_error(None, message)


class CatalogFormSet(BaseInlineFormSet):
    """The inlines of one benefit. The last one of the page judges the three lists
    together with the benefit (through `benefit_errors`) once every form is cleaned,
    and puts each sentence on the row or the list it is about."""

    list_key = ""
    row_field = ""
    siblings: dict[str, CatalogFormSet] = {}
    judge = False

    def rows(self) -> list[tuple[forms.Form, object]]:
        kept = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            value = form.cleaned_data.get(self.row_field)
            if value is None:
                continue
            kept.append((form, value))
        return sorted(kept, key=lambda pair: pair[0].cleaned_data.get("position") or 0)

    def clean(self):
        super().clean()
        if not self.judge:
            return
        lists = {key: self.siblings[key].rows() for key in LIST_KEYS if key in self.siblings}
        errors = benefit_errors(
            self.instance, **{key: [value for _f, value in rows] for key, rows in lists.items()}
        )
        found = False
        for key, messages in errors.items():
            name, _dot, index = key.partition(".")
            if name not in LIST_KEYS or lists.get(name) is None:
                continue
            found = True
            owner = self.siblings[name]
            if index:
                form = lists[name][int(index)][0]
                for message in messages:
                    form.add_error(owner.row_field, message)
            else:
                owner._non_form_errors.extend(messages)
        if found and not self._non_form_errors:
            raise forms.ValidationError(_("Please correct the errors in the lists above."))


class SourceFormSet(CatalogFormSet):
    list_key, row_field = "sources", "batch"


class FallbackFormSet(CatalogFormSet):
    list_key, row_field = "fallbacks", "fallback"


class ItemFormSet(CatalogFormSet):
    list_key, row_field = "items", "item"


class SourceInline(admin.TabularInline):
    model = BenefitSource
    formset = SourceFormSet
    fields = ["position", "batch"]
    autocomplete_fields = []
    extra = 1
    ordering = ["position", "id"]
    verbose_name = _("source (voucher batch, in priority order)")
    verbose_name_plural = _("sources (in priority order: the first with stock is used)")


class FallbackInline(admin.TabularInline):
    model = BenefitFallback
    formset = FallbackFormSet
    fk_name = "benefit"
    fields = ["position", "fallback"]
    extra = 1
    ordering = ["position", "id"]
    verbose_name_plural = _("equivalent fallbacks (通兑, when every source is empty)")


class PackItemInline(admin.TabularInline):
    model = PackItem
    formset = ItemFormSet
    fk_name = "pack"
    fields = ["position", "item", "quantity"]
    extra = 1
    ordering = ["position", "id"]
    verbose_name_plural = _("pack items (a pack is granted whole or not at all)")


class BenefitAdmin(admin.ModelAdmin):
    form = BenefitForm
    inlines = [SourceInline, FallbackInline, PackItemInline]
    list_display = [
        "code",
        "name",
        "kind",
        "status_text",
        "points_price",
        "budget_column",
        "stock_column",
        "fallback_column",
    ]
    list_filter = ["kind", ActiveNowFilter, RegionFilter]
    search_fields = ["code", "name"]
    search_help_text = _("Code or name.")
    list_per_page = 50
    readonly_fields = ["budget_used", "created_at", "updated_at"]
    change_form_template = "admin/entitlements/benefit/change_form.html"
    change_list_template = "admin/entitlements/benefit/change_list.html"
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "priority", "description", "image_url"]}),
        (_("Value and cost"), {"fields": ["face_value", "currency", "cost"]}),
        (
            _("Points exchange"),
            {"fields": ["points_price", "exchange_limit", "exchange_period"]},
        ),
        (
            _("Who and when"),
            {"fields": ["active", "active_from", "active_until", "region", "segment"]},
        ),
        (
            _("Budget and units"),
            {"fields": ["budget", "budget_used", "units_left", "valid_days"]},
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_changelist(self, request, **kwargs):
        return CatalogChangeList

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # grants point at benefits: switch one off instead

    # --- columns ---------------------------------------------------------------------
    @admin.display(description=_("status"))
    def status_text(self, benefit: Benefit) -> str:
        return benefit_status(benefit)

    @admin.display(description=_("budget used / budget"))
    def budget_column(self, benefit: Benefit) -> str:
        return budget_text(benefit)

    @admin.display(description=_("stock per source"))
    def stock_column(self, benefit: Benefit) -> str:
        if not benefit.source_rows:
            if benefit.units_left is not None:
                return gettext("%(n)s units left") % {"n": benefit.units_left}
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}",
            ((label, "—" if n is None else n) for label, n in benefit.source_rows),
        )

    @admin.display(description=_("fallback chain"))
    def fallback_column(self, benefit: Benefit) -> str:
        if not benefit.fallback_rows:
            return "—"
        return format_html_join(
            " → ",
            "{} ({})",
            ((fallback.name, "—" if n is None else n) for fallback, n in benefit.fallback_rows),
        )

    # --- the change form -------------------------------------------------------------
    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        siblings = {fs.list_key: fs for fs in formsets if isinstance(fs, CatalogFormSet)}
        for formset in siblings.values():
            formset.siblings = siblings
            formset.judge = False
        if siblings:
            formsets[-1].judge = True
        return formsets, inline_instances

    def save_model(self, request, obj, form, change) -> None:
        request._benefit_before = catalog_snapshot(obj.pk) if change else {}
        if not change:
            obj.save()
            return
        # `budget_used` moves only with grants (one conditional UPDATE each): never
        # write back the value read when the page was posted.
        fields = [
            field.name
            for field in Benefit._meta.concrete_fields
            if field.name not in ("id", "budget_used", "created_at")
        ]
        with transaction.atomic():
            obj.save(update_fields=fields)

    def save_related(self, request, form, formsets, change) -> None:
        """After the benefit and its lists are saved: one audit event with what changed
        (fields, sources, fallbacks, items), as the member program's console edits."""
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_benefit_before", {})
        changes = audit_changes(before, catalog_snapshot(form.instance.pk))
        if changes or not change:
            audit_record(
                subject=form.instance,
                action="update" if change else "create",
                actor=Actor.for_user(request.user, request),
                changes=changes,
                label=form.instance.code,
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        benefit = self.get_object(request, object_id)
        extra = {}
        if benefit is not None:
            catalog_stock([benefit])
            extra = {
                "benefit": benefit,
                "status_text": benefit_status(benefit),
                "budget_text": budget_text(benefit),
                "matrix_url": reverse("admin:entitlements_tierbenefit_changelist")
                + f"#benefit-{benefit.pk}",
                "grants_url": reverse("admin:entitlements_grant_changelist")
                + f"?benefit__id__exact={benefit.pk}",
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def changelist_view(self, request, extra_context=None):
        extra = {"matrix_url": reverse("admin:entitlements_tierbenefit_changelist")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})
