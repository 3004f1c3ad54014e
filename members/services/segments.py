"""Segments: saved conditions over members that compile to ONE queryset.

`Segment.conditions` is a JSON object; every key is optional and all given keys must
hold (AND). An empty object selects every member.

    tiers            ["silver", "gold"]        tier code is one of these
    stages           ["loyal", "dormant"]      lifecycle stage is one of these
    tags_any         ["vip"]                   carries at least one of these tags
    tags_all         ["vip", "coffee"]         carries every one of these tags
    tags_none        ["blocked"]               carries none of these tags
    points_min       100                       points balance >= (whole number)
    points_max       5000                      points balance <=
    purchases        {"days": 30, "count_min": 1, "count_max": 5,
                      "amount_min": "100.00", "amount_max": "999.99"}
    last_event_after   "2026-01-31" or 30      last event at/after that day (platform
                                               time zone) or after N days ago
    last_event_before  "2026-01-31" or 30      last event before that day, or more than
                                               N days ago (members with no event at all
                                               do not match)
    birthday_months  [1, 2]                    birthday falls in these months
    regions          ["310000"]                province code (GB/T 2260) is one of these

Purchases in the last N days (`days`, 1..3660) are read from `MemberEvent` rows:
the count is the number of `purchase` events in the window (a refund does not un-count
a purchase: the member came to buy); the amount is net, the purchases' amounts minus
the `refund` amounts in the same window. Each purchase condition is one uncorrelated
`GROUP BY member … HAVING …` subquery, so PostgreSQL hashes it once (no per-member
loop); "at least one purchase" is a plain semi-join over the (kind, occurred_at) index.

`segment_conditions_validate` reports every problem at once, keyed by the condition's
name (`{"purchases.days": ["…"]}`), used by the admin form and the program file.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from riskcontrol.core.actors import Actor
from riskcontrol.core.audit import audit_changes, audit_record
from riskcontrol.core.errors import DomainError, ValidationFailed

from ..models import Member, MemberEvent, Segment, Tag, Tier
from ..regions import is_province_code

CONDITION_KEYS = (
    "tiers",
    "stages",
    "tags_any",
    "tags_all",
    "tags_none",
    "points_min",
    "points_max",
    "purchases",
    "last_event_after",
    "last_event_before",
    "birthday_months",
    "regions",
)
PURCHASE_KEYS = ("days", "count_min", "count_max", "amount_min", "amount_max")
MAX_DAYS = 3660
logger = logging.getLogger(__name__)


class SegmentHasNoTag(DomainError):
    code = "segment_has_no_tag"
    status = 409


# --- validation -------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.by_key: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.by_key.setdefault(key, []).append(message)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _code_list(errors: _Errors, key: str, value: Any, known: set[str], what: str) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        errors.add(key, _("Give a non-empty list of %(what)s codes.") % {"what": what})
        return
    unknown = [v for v in value if v not in known]
    if unknown:
        errors.add(
            key, _("Unknown %(what)s: %(codes)s.") % {"what": what, "codes": ", ".join(unknown)}
        )


def _moment_ok(value: Any) -> bool:
    if _whole(value):
        return 0 <= value <= MAX_DAYS
    if isinstance(value, str):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10
    return False


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _validate_purchases(errors: _Errors, value: Any) -> None:
    if not isinstance(value, dict):
        errors.add("purchases", _("Give an object with days and a count or amount range."))
        return
    for key in value:
        if key not in PURCHASE_KEYS:
            errors.add(
                f"purchases.{key}",
                _("Unknown condition. Known: %(keys)s.") % {"keys": ", ".join(PURCHASE_KEYS)},
            )
    days = value.get("days")
    if not _whole(days) or not 1 <= days <= MAX_DAYS:
        errors.add(
            "purchases.days", _("Give a whole number of days from 1 to %(n)d.") % {"n": MAX_DAYS}
        )
    for key in ("count_min", "count_max"):
        if key in value and (not _whole(value[key]) or value[key] < 0):
            errors.add(f"purchases.{key}", _("Give a whole number, 0 or more."))
    for key in ("amount_min", "amount_max"):
        if key in value and _amount(value[key]) is None:
            errors.add(f"purchases.{key}", _('Give an amount in yuan, 0 or more, e.g. "100.00".'))
    if not any(key in value for key in ("count_min", "count_max", "amount_min", "amount_max")):
        errors.add(
            "purchases",
            _("Give a purchase count or an amount spent (at least or at most) for these days."),
        )
    _check_range(errors, value, "count_min", "count_max", prefix="purchases.")
    low, high = _amount(value.get("amount_min")), _amount(value.get("amount_max"))
    if low is not None and high is not None and low > high:
        errors.add("purchases.amount_max", _("The maximum is below the minimum."))


def _check_range(errors: _Errors, value: dict, low: str, high: str, *, prefix: str = "") -> None:
    if _whole(value.get(low)) and _whole(value.get(high)) and value[low] > value[high]:
        errors.add(f"{prefix}{high}", _("The maximum is below the minimum."))


def segment_conditions_errors(
    conditions: Any, *, tiers: set[str] | None = None, tags: set[str] | None = None
) -> dict[str, list[str]]:
    """Every problem of `conditions`, keyed by condition (`{}` when valid). Tier and tag
    codes are checked against `tiers`/`tags` (default: those in the database)."""
    errors = _Errors()
    if not isinstance(conditions, dict):
        errors.add("conditions", _("Conditions must be an object (key: value)."))
        return errors.by_key
    for key in conditions:
        if key not in CONDITION_KEYS:
            errors.add(
                str(key),
                _("Unknown condition. Known: %(keys)s.") % {"keys": ", ".join(CONDITION_KEYS)},
            )
    if "tiers" in conditions:
        known = tiers if tiers is not None else set(Tier.objects.values_list("code", flat=True))
        _code_list(errors, "tiers", conditions["tiers"], known, _("tier"))
    if "stages" in conditions:
        _code_list(
            errors, "stages", conditions["stages"], set(Member.LifecycleStage.values), _("stage")
        )
    tag_keys = [key for key in ("tags_any", "tags_all", "tags_none") if key in conditions]
    if tag_keys and tags is None:
        tags = set(Tag.objects.values_list("code", flat=True))
    for key in tag_keys:
        _code_list(errors, key, conditions[key], tags, _("tag"))
    for key in ("points_min", "points_max"):
        if key in conditions and (not _whole(conditions[key]) or conditions[key] < 0):
            errors.add(key, _("Give a whole number of points, 0 or more."))
    _check_range(errors, conditions, "points_min", "points_max")
    if "purchases" in conditions:
        _validate_purchases(errors, conditions["purchases"])
    for key in ("last_event_after", "last_event_before"):
        if key in conditions and not _moment_ok(conditions[key]):
            errors.add(
                key,
                _('Give a date such as "2026-01-31" or a whole number of days ago (0 to %(n)d).')
                % {"n": MAX_DAYS},
            )
    if "birthday_months" in conditions:
        months = conditions["birthday_months"]
        if (
            not isinstance(months, list)
            or not months
            or not all(_whole(m) and 1 <= m <= 12 for m in months)
        ):
            errors.add("birthday_months", _("Give a non-empty list of months, 1 to 12."))
    if "regions" in conditions:
        regions = conditions["regions"]
        if not isinstance(regions, list) or not regions:
            errors.add("regions", _("Give a non-empty list of province codes."))
        else:
            bad = [str(r) for r in regions if not is_province_code(r)]
            if bad:
                errors.add(
                    "regions",
                    _("Not a province code (6 digits ending in 0000, e.g. 310000): %(codes)s.")
                    % {"codes": ", ".join(bad)},
                )
    return errors.by_key


def segment_conditions_validate(conditions: Any, **known: Any) -> dict:
    """`conditions` when valid; raises ValidationFailed with every problem otherwise."""
    errors = segment_conditions_errors(conditions, **known)
    if errors:
        raise ValidationFailed(errors)
    return conditions


# --- compilation ------------------------------------------------------------------------


def _moment(value: int | str, now: dt.datetime) -> dt.datetime:
    if isinstance(value, int):
        return now - dt.timedelta(days=value)
    day = dt.date.fromisoformat(value)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _tagged(codes: list[str]) -> QuerySet:
    through = Member.tags.through
    return through.objects.filter(tag__code__in=codes).values("member_id")


def _purchase_filter(purchases: dict, now: dt.datetime) -> Q:
    since = now - dt.timedelta(days=purchases["days"])
    recent = MemberEvent.objects.filter(occurred_at__gte=since, occurred_at__lte=now)
    query = Q()
    count_min, count_max = purchases.get("count_min"), purchases.get("count_max")
    if count_min is not None or count_max is not None:
        bought = recent.filter(kind=MemberEvent.Kind.PURCHASE).order_by()
        if count_min == 1 and count_max is None:
            query &= Q(pk__in=bought.values("member_id"))
        else:
            per_member = bought.values("member_id").annotate(n=Count("id"))
            if count_min:  # members with no purchase have 0, so they need an IN
                having = per_member.filter(n__gte=count_min)
                if count_max is not None:
                    having = having.filter(n__lte=count_max)
                query &= Q(pk__in=having.values("member_id"))
            elif count_max is not None:
                query &= ~Q(pk__in=per_member.filter(n__gt=count_max).values("member_id"))
    amount_min = _amount(purchases["amount_min"]) if "amount_min" in purchases else None
    amount_max = _amount(purchases["amount_max"]) if "amount_max" in purchases else None
    if amount_min is not None or amount_max is not None:
        signed = Case(
            When(kind=MemberEvent.Kind.REFUND, then=-F("amount")),
            default=F("amount"),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        per_member = (
            recent.filter(kind__in=[MemberEvent.Kind.PURCHASE, MemberEvent.Kind.REFUND])
            .order_by()
            .values("member_id")
            .annotate(net=Sum(signed, default=Value(Decimal("0"))))
        )
        if amount_min:  # above 0: members with no purchase (net 0) are out, so an IN
            having = per_member.filter(net__gte=amount_min)
            if amount_max is not None:
                having = having.filter(net__lte=amount_max)
            query &= Q(pk__in=having.values("member_id"))
        else:  # members with no purchase (net 0) are in: exclude those outside the range
            if amount_min is not None:  # 0: refunds above purchases make the net negative
                query &= ~Q(pk__in=per_member.filter(net__lt=0).values("member_id"))
            if amount_max is not None:
                query &= ~Q(pk__in=per_member.filter(net__gt=amount_max).values("member_id"))
    return query


def segment_conditions_queryset(
    conditions: dict, *, now: dt.datetime | None = None
) -> QuerySet[Member]:
    """The members matching valid `conditions` (validate first), as one queryset."""
    now = now or timezone.now()
    query = Q()
    if "tiers" in conditions:
        query &= Q(tier_id__in=Tier.objects.filter(code__in=conditions["tiers"]).values("pk"))
    if "stages" in conditions:
        query &= Q(lifecycle_stage__in=conditions["stages"])
    if "tags_any" in conditions:
        query &= Q(pk__in=_tagged(conditions["tags_any"]))
    for code in conditions.get("tags_all", []):
        query &= Q(pk__in=_tagged([code]))
    if "tags_none" in conditions:
        query &= ~Q(pk__in=_tagged(conditions["tags_none"]))
    if "points_min" in conditions:
        query &= Q(points__gte=conditions["points_min"])
    if "points_max" in conditions:
        query &= Q(points__lte=conditions["points_max"])
    if "purchases" in conditions:
        query &= _purchase_filter(conditions["purchases"], now)
    if "last_event_after" in conditions:
        query &= Q(last_event_at__gte=_moment(conditions["last_event_after"], now))
    if "last_event_before" in conditions:
        query &= Q(last_event_at__lt=_moment(conditions["last_event_before"], now))
    if "birthday_months" in conditions:
        query &= Q(birthday__month__in=conditions["birthday_months"])
    if "regions" in conditions:
        query &= Q(region__in=conditions["regions"])
    return Member.objects.filter(query).order_by()


def segment_members(segment: Segment, *, now: dt.datetime | None = None) -> QuerySet[Member]:
    """The segment's members now. A segment whose stored conditions went bad (a tier or
    tag deleted since) raises ValidationFailed rather than silently matching others."""
    return segment_conditions_queryset(segment_conditions_validate(segment.conditions), now=now)


def segment_count(segment: Segment, *, now: dt.datetime | None = None) -> int:
    """How many members the segment holds now (one COUNT query)."""
    return segment_members(segment, now=now).count()


def segment_sample(segment: Segment, *, size: int = 20) -> list[Member]:
    """Up to `size` of the segment's members, newest first, with their tier."""
    return list(
        segment_members(segment).select_related("tier").order_by("-created_at", "-id")[:size]
    )


# --- writes -----------------------------------------------------------------------------

_SEGMENT_FIELDS = ("code", "name", "conditions", "tag", "tag_on_schedule")


@transaction.atomic
def segment_save(*, segment: Segment, actor: Actor) -> Segment:
    """Create or change a segment (the console's form): conditions are validated first
    (ValidationFailed with every problem, keyed `conditions.<name>`). Audited."""
    errors = segment_conditions_errors(segment.conditions)
    if errors:
        raise ValidationFailed({f"conditions.{key}": value for key, value in errors.items()})
    before = {}
    if segment.pk:
        stored = Segment.objects.select_for_update().get(pk=segment.pk)
        before = {field: getattr(stored, field) for field in _SEGMENT_FIELDS}
    segment.save()
    after = {field: getattr(segment, field) for field in _SEGMENT_FIELDS}
    changes = audit_changes(before, after)
    if changes or not before:
        audit_record(
            subject=segment,
            action="update" if before else "create",
            actor=actor,
            changes=changes,
            label=segment.code,
        )
    return segment


# --- tagging ----------------------------------------------------------------------------


def segment_tag_members(*, segment: Segment, actor: Actor, now: dt.datetime | None = None) -> int:
    """Give the segment's tag to all its members in one INSERT … SELECT (members who
    carry it already are skipped: ON CONFLICT DO NOTHING); members who left the segment
    keep the tag. Idempotent; answers how many members were newly tagged. Audited."""
    if segment.tag_id is None:
        raise SegmentHasNoTag(
            _('Segment "%(name)s" has no tag to give: choose its tag first.')
            % {"name": segment.name}
        )
    members = segment_members(segment, now=now).values("pk")
    select_sql, params = members.query.sql_with_params()
    through = Member.tags.through._meta.db_table
    qn = connection.ops.quote_name
    # Quoted names and the ORM's own SQL; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(through)} ({qn('member_id')}, {qn('tag_id')}) "  # noqa: S608
        f"SELECT matched.id, %s FROM {qn(Member._meta.db_table)} AS matched "
        f"WHERE matched.id IN ({select_sql}) "
        f"ON CONFLICT ({qn('member_id')}, {qn('tag_id')}) DO NOTHING"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [segment.tag_id, *params])
            tagged = max(cursor.rowcount, 0)
        count = segment_members(segment, now=now).count()
        Segment.objects.filter(pk=segment.pk).update(
            last_count=count, last_tagged_at=timezone.now()
        )
        segment.last_count, segment.last_tagged_at = count, timezone.now()
        audit_record(
            subject=segment,
            action="tag_members",
            actor=actor,
            changes={"tag": segment.tag.code, "newly_tagged": tagged, "count": count},
            label=segment.code,
        )
    return tagged


def segments_tag_scheduled(*, actor: Actor | None = None) -> dict[str, int]:
    """The nightly run: tag the members of every segment marked `tag_on_schedule` (each
    in its own transaction). A segment whose conditions went bad is skipped and logged."""
    actor = actor or Actor.system("segments_tag_scheduled")
    results: dict[str, int] = {}
    for segment in Segment.objects.filter(tag_on_schedule=True, tag__isnull=False):
        try:
            results[segment.code] = segment_tag_members(segment=segment, actor=actor)
        except ValidationFailed as error:
            logger.warning("segment %s not tagged: %s", segment.code, error.errors)
    return results
