"""The member page's timeline: what happened to one member, newest first, merged from
several sources (events, points entries, growth entries, tier changes, and whatever
higher apps register, such as vouchers).

Members sits below vouchers in the layers and never imports it: a higher app adds its
rows with `timeline_sources.register(TimelineSource(...))` from its AppConfig.ready().
Each source reads at most `limit` rows in one query; the page shows the newest `limit`
items of the merge and links to each source's list filtered to the member.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import GrowthEntry, Member, MemberEvent, PointsEntry, TierChange

TIMELINE_LIMIT = 50


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    source: str  # the source's key, e.g. "points"; also the CSS class of the row
    kind: str  # a short label: "purchase", "earned", "voucher claimed"
    summary: str  # one line, never a secret
    url: str = ""  # the row's own page, if any


@dataclass(frozen=True)
class TimelineSource:
    """A kind of row on the timeline. `items(member, limit)` returns the member's newest
    `limit` items in one query; `list_url(member)` is the full list filtered to the
    member; `permission` (app_label.codename) hides the source from users without it."""

    key: str
    label: object  # a lazy translatable string
    items: Callable[[Member, int], list[TimelineItem]]
    list_url: Callable[[Member], str]
    permission: str


class TimelineRegistry:
    """The timeline's sources; members registers its own below, higher apps theirs from
    AppConfig.ready()."""

    def __init__(self) -> None:
        self._sources: dict[str, TimelineSource] = {}

    def register(self, source: TimelineSource) -> TimelineSource:
        self._sources.setdefault(source.key, source)
        return source

    def __iter__(self):
        return iter(list(self._sources.values()))


timeline_sources = TimelineRegistry()


def _admin_list(model: type, member: Member) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?member__id__exact={member.pk}"


def _admin_change(model: type, pk: int) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])


def _events(member: Member, limit: int) -> list[TimelineItem]:
    rows = MemberEvent.objects.filter(member=member).order_by("-occurred_at", "-id")[:limit]
    items = []
    for event in rows:
        parts = []
        if event.amount is not None:
            parts.append(_("amount ¥%(amount)s") % {"amount": event.amount})
        if event.order_ref:
            parts.append(_("order %(ref)s") % {"ref": event.order_ref})
        effects = event.effects if isinstance(event.effects, dict) else {}
        if effects.get("points"):
            parts.append(_("points %(points)+d") % {"points": int(effects["points"])})
        if effects.get("growth"):
            parts.append(_("growth value %(growth)+d") % {"growth": int(effects["growth"])})
        items.append(
            TimelineItem(
                at=event.occurred_at,
                source="events",
                kind=MemberEvent.kind_label(event.kind),
                summary=" · ".join(parts),
                url=_admin_change(MemberEvent, event.pk),
            )
        )
    return items


def _points(member: Member, limit: int) -> list[TimelineItem]:
    rows = PointsEntry.objects.filter(member=member).order_by("-created_at", "-id")[:limit]
    items = []
    for entry in rows:
        parts = [
            _("%(amount)+d points, balance %(balance)s")
            % {"amount": entry.amount, "balance": f"{entry.balance_after:,}"}
        ]
        if entry.expires_at is not None and entry.amount > 0:
            parts.append(
                _("expires %(date)s") % {"date": _local_date(entry.expires_at).isoformat()}
            )
        if entry.activates_at is not None and entry.activates_at > entry.created_at:
            parts.append(
                _("spendable from %(date)s") % {"date": _local_date(entry.activates_at).isoformat()}
            )
        if entry.shortfall:
            parts.append(_("%(points)s not taken back") % {"points": f"{entry.shortfall:,}"})
        if entry.reason:
            parts.append(entry.reason)
        items.append(
            TimelineItem(
                at=entry.created_at,
                source="points",
                kind=entry.get_kind_display(),
                summary=" · ".join(parts),
                url=_admin_change(PointsEntry, entry.pk),
            )
        )
    return items


def _growth(member: Member, limit: int) -> list[TimelineItem]:
    rows = GrowthEntry.objects.filter(member=member).order_by("-occurred_at", "-id")[:limit]
    return [
        TimelineItem(
            at=entry.occurred_at,
            source="growth",
            kind=_("growth value"),
            summary=" · ".join(
                part
                for part in (_("%(amount)+d growth value") % {"amount": entry.amount}, entry.reason)
                if part
            ),
            url=_admin_change(GrowthEntry, entry.pk),
        )
        for entry in rows
    ]


def _tier_changes(member: Member, limit: int) -> list[TimelineItem]:
    rows = (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")[:limit]
    )
    items = []
    for change in rows:
        parts = [
            _("%(from)s → %(to)s")
            % {
                "from": change.from_tier.name if change.from_tier else _("no tier"),
                "to": change.to_tier.name if change.to_tier else _("no tier"),
            },
            change.get_reason_display(),
        ]
        if change.note:
            parts.append(change.note)
        items.append(
            TimelineItem(
                at=change.created_at,
                source="tiers",
                kind=_("tier change"),
                summary=" · ".join(parts),
                url=_admin_change(TierChange, change.pk),
            )
        )
    return items


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


timeline_sources.register(
    TimelineSource(
        key="events",
        label=gettext_lazy("member events"),
        items=_events,
        list_url=lambda member: _admin_list(MemberEvent, member),
        permission="members.view_memberevent",
    )
)
timeline_sources.register(
    TimelineSource(
        key="points",
        label=gettext_lazy("points entries"),
        items=_points,
        list_url=lambda member: _admin_list(PointsEntry, member),
        permission="members.view_pointsentry",
    )
)
timeline_sources.register(
    TimelineSource(
        key="growth",
        label=gettext_lazy("growth entries"),
        items=_growth,
        list_url=lambda member: _admin_list(GrowthEntry, member),
        permission="members.view_growthentry",
    )
)
timeline_sources.register(
    TimelineSource(
        key="tiers",
        label=gettext_lazy("tier changes"),
        items=_tier_changes,
        list_url=lambda member: _admin_list(TierChange, member),
        permission="members.view_tierchange",
    )
)


@dataclass(frozen=True)
class Timeline:
    items: list[TimelineItem]
    links: list[tuple[str, str]]  # (label, list url filtered to the member)
    capped: bool  # more rows exist than shown


def member_timeline(*, member: Member, user, limit: int = TIMELINE_LIMIT) -> Timeline:
    """The member's newest `limit` items over every source `user` may view, merged
    newest first; one query per source."""
    items: list[TimelineItem] = []
    links = []
    for source in timeline_sources:
        if not user.has_perm(source.permission):
            continue
        items.extend(source.items(member, limit + 1))
        links.append((str(source.label), source.list_url(member)))
    items.sort(key=lambda item: item.at, reverse=True)
    return Timeline(items=items[:limit], links=links, capped=len(items) > limit)
