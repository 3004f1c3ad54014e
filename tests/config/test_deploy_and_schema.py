import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from riskcontrol.crypto import generate_key

ROOT = Path(__file__).resolve().parents[2]


PRODUCTION_VARIABLES = (
    "DJANGO_",
    "VOUCHER_",
    "SECRET_",
    "DEBUG",
    "SECURE_",
    "ALLOWED",
    "SESSION_",
    "CSRF_",
)


def production_env(**overrides):
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(PRODUCTION_VARIABLES)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="false",
        SECRET_KEY=generate_key() + generate_key(),
        ALLOWED_HOSTS="quanyi.example.com",
        VOUCHER_KEYS=f"k1:{generate_key()}",
        VOUCHER_INDEX_KEY=generate_key(),
        DATABASE_URL=os.environ.get("DATABASE_URL", "sqlite:////tmp/quanyi-deploy-check.sqlite3"),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    env.update(overrides)
    return env


def run_deploy_check(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_configuration_passes_check_deploy():
    result = run_deploy_check(production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_missing_voucher_keys():
    result = run_deploy_check(production_env(VOUCHER_KEYS=""))

    assert result.returncode != 0
    assert "quanyi.E001" in result.stderr
    assert "VOUCHER_KEYS is not set" in result.stderr


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    schema = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))

    text = schema.read_text()
    assert "ApiKeyAuth" in text
    assert "application/problem+json" in text
    assert "/api/v1/members/{external_id}" in text
