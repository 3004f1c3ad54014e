"""Row locks on members, for other apps' services that must serialise per member."""

from django.utils.translation import gettext as _

from riskcontrol.core.errors import NotFound

from .models import Member


def member_for_update(*, external_id: str) -> Member:
    """Lock and return the member (inside the caller's transaction). Raises NotFound.
    Read what the lock protects in later statements: under READ COMMITTED only a
    statement started after the lock sees what the previous holder committed."""
    member = Member.objects.select_for_update(of=("self",)).filter(external_id=external_id).first()
    if member is None:
        raise NotFound(_("No member with this external id."))
    return member
