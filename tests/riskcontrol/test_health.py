import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_broker_without_a_key():
    response = APIClient().get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_is_503_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = APIClient().get("/api/v1/health")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "unavailable"}


def test_health_checks_a_broker_other_than_redis_through_the_celery_app(settings):
    settings.CELERY_BROKER_URL = "memory://"

    response = APIClient().get("/api/v1/health")

    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_is_503_when_a_broker_other_than_redis_is_down(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1

    response = APIClient().get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"
