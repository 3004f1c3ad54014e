"""Idempotency-Key on state-changing POSTs (API.md, "Idempotency")."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from members.models import Member
from riskcontrol.models import IdempotencyKey
from riskcontrol.services import (
    idempotency_begin,
    idempotency_fingerprint,
    idempotency_purge_expired,
)
from tests.utils import race, requires_postgresql

BODY = {"external_id": "M-IDEM", "name": "Ada", "phone": "13912345678"}


def post_member(api, body=BODY, key="key-1"):
    return api.post("/api/v1/members", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_replay_returns_the_identical_status_and_body_with_the_replay_header(partner_api):
    api = partner_api(scopes=["members:write"])
    first = post_member(api)

    replay = post_member(api)

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == first["Content-Type"]
    assert Member.objects.count() == 1


@pytest.mark.django_db
def test_fingerprint_ignores_key_order(partner_api):
    api = partner_api(scopes=["members:write"])
    post_member(api)

    replay = post_member(api, body=dict(reversed(list(BODY.items()))))

    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(partner_api):
    api = partner_api(scopes=["members:write"])
    post_member(api)

    response = post_member(api, body={**BODY, "name": "Grace"})

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Member.objects.get().name == "Ada"


@pytest.mark.django_db
def test_keys_are_scoped_to_the_client(partner_api):
    first, second = partner_api(scopes=["members:write"]), partner_api(scopes=["members:write"])
    post_member(first)

    response = post_member(second, body={**BODY, "external_id": "M-OTHER"})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_key_outside_1_to_255_characters_is_400(partner_api, key):
    api = partner_api(scopes=["members:write"])

    response = post_member(api, key=key)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "Idempotency-Key" in response.json()["errors"]
    assert Member.objects.count() == 0


@pytest.mark.django_db
def test_a_client_error_is_stored_and_replayed(partner_api):
    api = partner_api(scopes=["members:write"])
    first = post_member(api, body={"external_id": "M1", "tier": "unknown"})

    replay = post_member(api, body={"external_id": "M1", "tier": "unknown"})

    assert first.status_code == 400
    assert replay.status_code == 400
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.urls("tests.crash_urls")
def test_a_server_error_frees_the_key(partner_api):
    api = partner_api()
    api.raise_request_exception = False
    failed = api.post("/api/v1/_test/crash", {"fail": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert failed.status_code == 500
    assert not IdempotencyKey.objects.exists()

    retried = api.post("/api/v1/_test/crash", {"fail": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert retried.status_code == 500
    assert "Idempotent-Replayed" not in retried


@pytest.mark.django_db
@pytest.mark.urls("tests.crash_urls")
def test_a_server_error_after_a_write_undoes_the_write_with_the_key(partner_api):
    """The key's record, the operation and the stored answer are one transaction: a
    request that fails half-way leaves nothing a retry would trip over."""
    api = partner_api()
    api.raise_request_exception = False
    body = {"write_then_fail": 1}

    failed = api.post("/api/v1/_test/crash", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert failed.status_code == 500
    assert not Member.objects.filter(external_id="HALF-DONE").exists()
    assert not IdempotencyKey.objects.exists()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_key_whose_request_is_still_running_answers_409_at_once_and_is_free_after(
    partner_api,
):
    """The running request holds its key inside its open transaction; a second request
    with the key does not wait for it: 409 `request_in_progress` at once. When the first
    rolls back, the key is free again."""
    api = partner_api(scopes=["members:write"])
    fingerprint = idempotency_fingerprint(method="POST", path="/api/v1/members", body=BODY)
    holding, finish = threading.Event(), threading.Event()

    def running_request():
        try:
            with transaction.atomic():
                idempotency_begin(client=api.partner_client, key="key-1", fingerprint=fingerprint)
                holding.set()
                finish.wait(10)
                transaction.set_rollback(True)
        finally:
            connection.close()

    runner = threading.Thread(target=running_request)
    runner.start()
    try:
        assert holding.wait(10)
        second = post_member(api)
    finally:
        finish.set()
        runner.join()
    after = post_member(api)

    assert second.status_code == 409
    assert second.json()["code"] == "request_in_progress"
    assert after.status_code == 201
    assert "Idempotent-Replayed" not in after
    assert Member.objects.filter(external_id="M-IDEM").count() == 1


@pytest.mark.django_db
def test_a_rate_limited_answer_is_not_stored(partner_api, settings):
    settings.PARTNER_API_RATE = "1/min"
    api = partner_api(scopes=["members:write", "members:read"])
    api.get("/api/v1/members/x")  # uses the one allowed request

    response = post_member(api)

    assert response.status_code == 429
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_stored_response_is_encrypted(partner_api):
    api = partner_api(scopes=["members:write"])
    response = post_member(api)

    stored = bytes(IdempotencyKey.objects.get().response_body)

    assert b"M-IDEM" in response.content
    assert b"M-IDEM" not in stored
    assert b"Ada" not in stored


@pytest.mark.django_db
def test_after_24_hours_the_key_runs_the_request_again(partner_api, time_machine):
    api = partner_api(scopes=["members:write"])
    post_member(api)
    time_machine.move_to(timezone.now() + timezone.timedelta(hours=24, seconds=1))

    response = post_member(api, body={**BODY, "name": "Grace"})

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert Member.objects.get().name == "Grace"


@pytest.mark.django_db
def test_purge_removes_only_expired_keys(partner_api, time_machine):
    api = partner_api(scopes=["members:write"])
    post_member(api, key="old")
    time_machine.move_to(timezone.now() + timezone.timedelta(hours=23))
    post_member(api, body={**BODY, "external_id": "M2"}, key="young")
    time_machine.move_to(timezone.now() + timezone.timedelta(hours=2))

    purged = idempotency_purge_expired()

    assert purged == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_run_the_operation_once(partner_api):
    """Without the key, 20 upserts would give one 201 and nineteen 200s. With it, the
    operation runs once: every answer is that 201 (replayed) or 409 request_in_progress."""
    api = partner_api(scopes=["members:write"])
    raw_key = api.raw_key

    def call(_index):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        response = post_member(client, key="same-key")
        return response.status_code, response.get("Idempotent-Replayed"), response.json()

    results = race(20, call)

    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = sorted(status for status, _replayed, _body in results)
    originals = [r for r in results if r[0] == 201 and r[1] is None]
    replays = [r for r in results if r[0] == 201 and r[1] == "true"]
    in_progress = [r for r in results if r[0] == 409]
    assert len(originals) == 1, statuses
    assert len(replays) + len(in_progress) == 19, statuses
    assert all(body == originals[0][2] for _s, _r, body in replays)
    assert all(body["code"] == "request_in_progress" for _s, _r, body in in_progress)
    assert Member.objects.filter(external_id="M-IDEM").count() == 1
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.COMPLETED


def _request_killed_mid_flight(api, key="key-1"):
    """What a web process killed at its request timeout leaves behind: the key claimed
    (in progress), never completed nor released."""
    from riskcontrol.services import idempotency_begin, idempotency_fingerprint

    fingerprint = idempotency_fingerprint(method="POST", path="/api/v1/members", body=BODY)
    record, _stored = idempotency_begin(client=api.partner_client, key=key, fingerprint=fingerprint)
    return record


@pytest.mark.django_db
def test_a_key_held_by_a_running_request_answers_in_progress_within_the_lease(
    partner_api, settings, time_machine
):
    settings.IDEMPOTENCY_LEASE_SECONDS = 60
    api = partner_api(scopes=["members:write"])
    _request_killed_mid_flight(api)
    time_machine.move_to(timezone.now() + timezone.timedelta(seconds=50))

    response = post_member(api)

    assert response.status_code == 409
    assert response.json()["code"] == "request_in_progress"
    assert Member.objects.count() == 0


@pytest.mark.django_db
def test_a_key_left_in_progress_by_a_killed_request_lapses_after_the_lease(
    partner_api, settings, time_machine
):
    settings.IDEMPOTENCY_LEASE_SECONDS = 60
    api = partner_api(scopes=["members:write"])
    stale = _request_killed_mid_flight(api)
    time_machine.move_to(timezone.now() + timezone.timedelta(seconds=61))

    response = post_member(api)
    replay = post_member(api)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert replay["Idempotent-Replayed"] == "true"
    assert Member.objects.filter(external_id="M-IDEM").count() == 1
    record = IdempotencyKey.objects.get()
    assert record.pk != stale.pk
    assert record.state == IdempotencyKey.State.COMPLETED
