import pytest

from members.services import member_upsert
from tests.utils import dump_database

PHONES = ["13912345678", "13600001111"]
EMAILS = ["ada.lovelace@example.com", "grace@example.org"]


@pytest.mark.django_db(transaction=True)
def test_a_full_database_dump_holds_no_plaintext_phone_or_email(partner_api):
    member_upsert(external_id="M1", phone=PHONES[0], email=EMAILS[0])
    api = partner_api(scopes=["members:write"])
    response = api.post(
        "/api/v1/members",
        {"external_id": "M2", "phone": PHONES[1], "email": EMAILS[1]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="dump-test",
    )
    assert response.status_code == 201

    dump = dump_database()

    assert "M1" in dump and "M2" in dump  # the dump really holds the members
    for value in PHONES + EMAILS:
        assert value not in dump
        assert value.encode().hex() not in dump.lower()
        assert value[-8:] not in dump
