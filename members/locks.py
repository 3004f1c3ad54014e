"""Row locks on members, for other apps' services that must serialise per member."""

from django.db import connection
from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound
from riskcontrol.core.rawsql import from_row, select_list

from .models import Member, Tier


def member_for_update(*, external_id: str) -> Member:
    """Lock and return the member (inside the caller's transaction). Raises NotFound.
    Read what the lock protects in later statements: under READ COMMITTED only a
    statement started after the lock sees what the previous holder committed."""
    member = Member.objects.select_for_update(of=("self",)).filter(external_id=external_id).first()
    if member is None:
        raise NotFound(_("No member with this external id."))
    return member


_LOCK_SQL: dict[str, str] = {}


def member_row_lock(*, key: str, value: int | str) -> Member | None:
    """The member whose `key` ("id" or "external_id") is `value`, locked FOR UPDATE, with
    its tier read in the same statement (`member.tier` needs no query); None when there
    is none. On PostgreSQL one hand-written statement: the ORM's would cost several
    times its round trip in Python on every grant, spend and event."""
    if key not in ("id", "external_id"):
        raise ValueError(key)
    if connection.vendor != "postgresql":
        rows = Member.objects.select_for_update(of=("self",)).select_related("tier")
        return rows.filter(**{key: value}).first()
    if key not in _LOCK_SQL:
        quote = connection.ops.quote_name
        _LOCK_SQL[key] = (
            f"SELECT {select_list(Member, 'm')}, {select_list(Tier, 't')} "  # noqa: S608
            f"FROM {quote(Member._meta.db_table)} m "
            f"LEFT JOIN {quote(Tier._meta.db_table)} t ON t.id = m.tier_id "
            f"WHERE m.{quote(key)} = %s FOR UPDATE OF m"
        )
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL[key], [value])
        row = cursor.fetchone()
    if row is None:
        return None
    member, offset = from_row(Member, row)
    tier, _end = from_row(Tier, row, offset)
    Member.tier.field.set_cached_value(member, tier)
    return member
