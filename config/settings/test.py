"""Test settings: the runtime settings plus eager tasks and fixed test keys.

`DATABASE_URL` / `CELERY_BROKER_URL` still switch the tests to PostgreSQL / Redis.
"""

import os

os.environ.setdefault(
    "VOUCHER_KEYS",
    "test2:cXVhbnlpLXRlc3Qta2V5LTIuLi4uLi4uLi4uLi4uLi4,test1:cXVhbnlpLXRlc3Qta2V5LTEuLi4uLi4uLi4uLi4uLi4",
)
os.environ.setdefault("VOUCHER_INDEX_KEY", "cXVhbnlpLXRlc3QtaW5kZXgta2V5Li4uLi4uLi4uLi4")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")

from .base import *  # noqa: F403
from .base import STORAGES

# Without CACHE_URL, an in-process cache: nothing a test counts outlives the test run.
if not os.environ.get("CACHE_URL"):
    CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405

# Tasks run inline in tests; the real-worker tests switch this off for themselves.
CELERY_TASK_ALWAYS_EAGER = True
BATCH_STOCK_CACHE_SECONDS = 0
CARD_STOCK_UPLOAD_DIR = BASE_DIR / "var" / "test-imports"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
