"""Vouchers on the member page's timeline: the vouchers app registers this source with
members' timeline hook (`members.timeline.timeline_sources`) from VouchersConfig.ready(),
since members sits below vouchers and never imports it. A voucher shows by its serial
and batch, never by its code."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from members.models import Member
from members.timeline import TimelineItem, TimelineSource

from .. import selectors


def _member_vouchers(member: Member, limit: int) -> list[TimelineItem]:
    rows = selectors.member_vouchers(member=member)[:limit]
    return [
        TimelineItem(
            at=voucher.claimed_at or voucher.created_at,
            source="vouchers",
            kind=str(_("voucher")),
            summary=" · ".join((voucher.serial, voucher.batch.name, voucher.get_status_display())),
            url=reverse("admin:vouchers_voucher_change", args=[voucher.pk]),
        )
        for voucher in rows
    ]


def _member_vouchers_list(member: Member) -> str:
    return f"{reverse('admin:vouchers_voucher_changelist')}?member__id__exact={member.pk}"


member_vouchers_source = TimelineSource(
    key="vouchers",
    label=_("vouchers"),
    items=_member_vouchers,
    list_url=_member_vouchers_list,
    permission="vouchers.view_voucher",
)
