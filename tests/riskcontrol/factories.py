import itertools

from riskcontrol.models import PartnerClient
from riskcontrol.services import partner_client_create, partner_key_issue

_sequence = itertools.count(1)


def partner_client_with_key(*, scopes=(), store_code="", name=None) -> tuple[PartnerClient, str]:
    client = partner_client_create(
        name=name or f"Partner {next(_sequence)}", scopes=list(scopes), store_code=store_code
    )
    _key, raw_key = partner_key_issue(client=client)
    return client, raw_key
