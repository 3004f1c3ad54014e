"""An unconfirmed member import keeps no phone or e-mail in clear anywhere (issue 9,
item 16): the uploaded file waits for confirmation sealed in the cache, for an hour."""

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from members.models import Member
from members.selectors import member_email, member_phone

pytestmark = pytest.mark.django_db

PHONE = "13987654321"
EMAIL = "secret.person@example.com"


def raw_cache_values() -> list[bytes]:
    """Every value the default cache holds, as stored (Redis or in-process memory)."""
    backend = cache._cache
    if hasattr(backend, "get_client"):  # django's RedisCache
        client = backend.get_client()
        return [client.get(key) or b"" for key in client.keys("*")]
    return list(backend.values())  # LocMemCache: pickled bytes


def upload(operator):
    body = f"external_id,name,phone,email\nIMP-9,Sealed,{PHONE},{EMAIL}\n".encode()
    return operator.post(
        "/admin/members/member/import/",
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("members.csv", body, content_type="text/csv"),
        },
    )


def test_an_unconfirmed_import_keeps_no_contact_in_clear_in_the_cache(console_client):
    operator = console_client("Operator")

    preview = upload(operator)

    assert preview.status_code == 200
    assert "import_file_name" in preview.content.decode()
    values = raw_cache_values()
    assert values, "the upload waits in the cache"
    for needle in (PHONE.encode(), EMAIL.encode(), b"secret.person"):
        assert not [v for v in values if needle in v]
    assert not Member.objects.filter(external_id="IMP-9").exists()


def test_the_sealed_upload_is_confirmed_and_then_removed(console_client):
    operator = console_client("Operator")
    preview = upload(operator).content.decode()
    hidden = dict(
        re.findall(
            r'name="(import_file_name|original_file_name|format|resource)" value="([^"]*)"', preview
        )
    )

    done = operator.post("/admin/members/member/process_import/", hidden)

    assert done.status_code == 302
    member = Member.objects.get(external_id="IMP-9")
    assert (member_phone(member), member_email(member)) == (PHONE, EMAIL)
    assert cache.get(f"import-sealed-{hidden['import_file_name']}") is None


def test_the_sealed_entry_lives_an_hour_at_most():
    from riskcontrol.console.import_storage import SealedCacheStorage

    storage = SealedCacheStorage()
    storage.save(b"phone\n13900000000\n")

    assert SealedCacheStorage.CACHE_LIFETIME <= 3600
    assert storage.read() == b"phone\n13900000000\n"
    storage.remove()
    assert storage.read() is None
