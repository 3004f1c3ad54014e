"""Quanyi settings: every value comes from the environment (or `.env`).

With nothing set, the project runs for local development: SQLite file, an embedded
Celery broker on the file system, DEBUG on. Setting `DATABASE_URL`, `CELERY_BROKER_URL`,
`VOUCHER_KEYS`, `VOUCHER_INDEX_KEY`, `SECRET_KEY`, `ALLOWED_HOSTS` and `DEBUG=false`
switches it to production.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -----------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
# Development gets an obviously-unsafe fallback; `check --deploy` rejects it.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-dev-only-set-SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with the console's site (sections, its own 404 page).
    "riskcontrol.console_site.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "axes",
    # Quanyi apps, in dependency order (see docs/architecture.md; `lint-imports` checks it).
    "riskcontrol",
    "members",
    "vouchers",
    "redemption",
    "suppliers",
    "entitlements",
    "analytics",
    # On top of every app: project-wide management commands (`seed_demo`).
    "config",
]

MIDDLEWARE = [
    "riskcontrol.http.middleware.RequestIdMiddleware",
    # Outside everything that reads the Host header or the body (see its docstring).
    "riskcontrol.http.middleware.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "riskcontrol.http.middleware.NulQueryMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must be last: it turns lockouts raised by the auth backend into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is the embedded default for a first run; IMMEDIATE transactions make writers
# queue for the lock instead of failing with "database is locked" halfway through.
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'var' / 'quanyi.sqlite3'}",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
# Shared state between web processes (API throttles) lives here: Redis in production; a
# file cache in var/ for the embedded default, which `make run` serves from several
# gunicorn processes (an in-process cache would give each its own throttle count).
CACHES = {
    "default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}"),
    # Progress of long jobs, written by workers and read by web processes: shared.
    "progress": env.cache(
        "PROGRESS_CACHE_URL",
        default=env.str("CACHE_URL", default="") or f"filecache://{VAR_DIR / 'progress-cache'}",
    ),
}
# Redis down or hung must not fail a request: every Redis call times out quickly, a
# process that saw a failure leaves Redis alone for a few seconds, cache reads then miss
# and writes are dropped (riskcontrol/rules/fallback.py); counters fall back to the database.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=5.0)
for _cache in CACHES.values():
    if _cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        _cache["BACKEND"] = "riskcontrol.rules.fallback.FailSoftRedisCache"

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Admin login throttling: five failures for one username from one address lock it.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "axes_lockout.html"

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Secrets codec (riskcontrol/crypto.py) --------------------------------------------
# "kid:<base64url 32 bytes>,kid2:<...>", newest first. `make run` writes dev keys to .env.
VOUCHER_KEYS = env.str("VOUCHER_KEYS", default="")
VOUCHER_INDEX_KEY = env.str("VOUCHER_INDEX_KEY", default="")

# --- django-import-export (members, stores, voucher lists; never card stock) ----------
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
# Uploaded member files hold phone numbers: out of the file system, sealed in the cache.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "riskcontrol.console.import_storage.SealedCacheStorage"
# Off: it strips a leading "=" and misses + - @; resources mix in
# riskcontrol.core.spreadsheets.SpreadsheetSafeExport instead (an apostrophe, nothing lost).
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False

# --- Partner API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["riskcontrol.http.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["riskcontrol.http.permissions.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["riskcontrol.http.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "riskcontrol.http.pagination.PagePagination",
    "EXCEPTION_HANDLER": "riskcontrol.http.problems.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["riskcontrol.http.throttles.PartnerClientRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 50,
}
IDEMPOTENCY_TTL_HOURS = 24
# An in-progress Idempotency-Key is a lease: a request still running after this long was
# killed (keep it above the web server's request timeout, gunicorn --timeout), so a retry
# may take the key over.
IDEMPOTENCY_LEASE_SECONDS = env.int("IDEMPOTENCY_LEASE_SECONDS", default=120)
# Batch stock figures are counted (GROUP BY status), never kept in a hot counter row;
# under load they may be this many seconds old.
BATCH_STOCK_CACHE_SECONDS = env.int("BATCH_STOCK_CACHE_SECONDS", default=3)
# Code-guessing defence: failed code/token lookups per actor (clerk or partner client);
# a store reaching GUESS_STORE_ALERT_AT failures within the window raises a risk alert.
GUESS_LIMIT = env.int("GUESS_LIMIT", default=20)
GUESS_WINDOW_SECONDS = env.int("GUESS_WINDOW_SECONDS", default=600)
GUESS_STORE_ALERT_AT = env.int("GUESS_STORE_ALERT_AT", default=50)
# Counted in Redis when set (defaults to CACHE_URL when that is Redis), else in the database.
RISK_REDIS_URL = env.str(
    "RISK_REDIS_URL",
    default=CACHES["default"]["LOCATION"]
    if "redis" in CACHES["default"]["BACKEND"].lower()
    else "",
)
# Uploaded card-stock files, sealed (never plaintext); leftovers removed after 24 h.
CARD_STOCK_UPLOAD_DIR = env.path("CARD_STOCK_UPLOAD_DIR", default=VAR_DIR / "imports")
# Files above this many rows are validated and imported by a worker, with a progress bar.
CARD_STOCK_SYNC_ROWS = env.int("CARD_STOCK_SYNC_ROWS", default=10_000)
REDEMPTION_REVERSAL_WINDOW_HOURS = env.int("REDEMPTION_REVERSAL_WINDOW_HOURS", default=24)
PRESENTATION_TOKEN_SECONDS = env.int("PRESENTATION_TOKEN_SECONDS", default=120)
# The store page signs staff out after this long without a request (an unattended till).
STORE_IDLE_TIMEOUT_SECONDS = env.int("STORE_IDLE_TIMEOUT_SECONDS", default=30 * 60)
# Requests per partner client ("6000/min"); empty turns the throttle off.
PARTNER_API_RATE = env.str("PARTNER_API_RATE", default="6000/min")

SPECTACULAR_SETTINGS = {
    "TITLE": "Quanyi partner API",
    "DESCRIPTION": (
        "Members, vouchers, claims and redemptions for partner systems: keep your members "
        "and stores in step, give members vouchers, show them their vouchers and redeem "
        "them at your tills.\n\n"
        "**Authentication.** Send your API key in every call as `Authorization: Api-Key "
        "<key>` (press *Authorize* to try calls here). Each operation names the scope "
        "your key needs.\n\n"
        "**Errors** are RFC 9457 problem documents (`application/problem+json`) with a "
        "stable `code` to branch on; `title` and `detail` are for people. Each operation "
        "lists the codes it can answer, by HTTP status. A wrong method on a path answers "
        "405 `method_not_allowed`, an unknown path 404 `not_found`.\n\n"
        "**Retries.** Every `POST` takes an `Idempotency-Key` header; a retry with the same "
        "key and body answers the first response again instead of doing the work twice. "
        "429 and 503 answers carry `Retry-After`.\n\n"
        "**Formats.** JSON in and out; money is a decimal string with two places plus a "
        "`currency`; times are ISO 8601 with their offset. Lists come a page at a time "
        "(`page`, `page_size` up to 200) with `count`, `next`, `previous` and `results`."
    ),
    "TAGS": [
        {"name": "members", "description": "Your members and the vouchers they hold."},
        {"name": "batches", "description": "Voucher batches, their stock, and claims."},
        {"name": "vouchers", "description": "One voucher: its state, its code, QR tokens."},
        {"name": "redemptions", "description": "Redeeming vouchers at stores, and refunds."},
        {"name": "stores", "description": "The stores where vouchers are redeemed."},
        {"name": "health", "description": "For monitoring."},
    ],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ComponentStatusEnum": "riskcontrol.http.health.ComponentStatus",
        # Two choice sets share the field name "kind": name both.
        "KindEnum": "vouchers.models.VoucherBatch.Kind",
        "PointsEntryKindEnum": "members.models.PointsEntry.Kind",
        # A voucher's status appears in vouchers and in a member's holdings.
        "VoucherStatusEnum": "vouchers.models.Voucher.Status",
        "BenefitKindEnum": "entitlements.models.Benefit.Kind",
        "PeriodEnum": "entitlements.models.Benefit.Period",
        "GrantStatusEnum": "entitlements.models.Grant.Status",
        "GrantViaEnum": "entitlements.models.Grant.Via",
        "GrantRouteEnum": "entitlements.serializers.PARTNER_ROUTES",
        "ClaimRouteEnum": "entitlements.serializers.CLAIM_ROUTES",
        "FulfilmentStatusEnum": "entitlements.serializers.FULFILMENT_STATUSES",
    },
}

# --- Celery ---------------------------------------------------------------------------
# Unset broker: kombu's file-system transport, so `make run` needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Long jobs (generation, card-stock imports, rollups) run with acks_late. Redis hands an
# unacknowledged task to another worker only after the visibility timeout, so it must
# outlast the longest job (else a running job is started twice); a worker that died is
# covered sooner by the stale-job sweeper (JOBS_STALE_SECONDS, vouchers/sweeper.py).
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=6 * 3600)
# A hung Redis fails an enqueue in seconds instead of holding the request.
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
REDIS_BROKER_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
    CELERY_TASK_PUBLISH_RETRY_POLICY = REDIS_BROKER_PUBLISH_RETRY_POLICY
if CELERY_BROKER_URL.startswith("filesystem"):
    (VAR_DIR / "broker").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        # kombu's default is ./control, in the working tree.
        "control_folder": str(VAR_DIR / "broker-control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "purge-expired-idempotency-keys": {
        "task": "riskcontrol.tasks.idempotency_purge_expired",
        "schedule": 3600.0,
    },
    "card-stock-uploads-cleanup": {
        "task": "vouchers.tasks.card_stock_uploads_cleanup_task",
        "schedule": 3600.0,
    },
    "expire-vouchers": {
        "task": "vouchers.tasks.vouchers_expire_due_task",
        "schedule": 300.0,
    },
    "resume-stale-jobs": {
        "task": "vouchers.tasks.stale_jobs_resume_task",
        "schedule": 60.0,
    },
    "expire-points": {
        "task": "members.tasks.points_expire_task",
        "schedule": 3600.0,
    },
    "segments-tag-scheduled": {  # nightly, platform time
        "task": "members.tasks.segments_tag_scheduled",
        "schedule": crontab(hour=3, minute=30),
    },
}
# A long job (generation, card-stock import) whose progress has not moved for this long
# lost its worker: the sweeper above enqueues it again (vouchers/sweeper.py).
JOBS_STALE_SECONDS = env.int("JOBS_STALE_SECONDS", default=300)

# --- Member program: tier review and lifecycle stages (members/services/tiers.py,
# members/services/lifecycle.py). Days are local calendar days in TIME_ZONE: "N days"
# means since local midnight N days before today.
# A member with no event in the last MEMBER_DORMANT_DAYS days (and today) is dormant.
MEMBER_DORMANT_DAYS = env.int("MEMBER_DORMANT_DAYS", default=30)
# A member who joined in the last MEMBER_NEW_DAYS days (and is not dormant) is new.
MEMBER_NEW_DAYS = env.int("MEMBER_NEW_DAYS", default=30)
# Loyal: at least MEMBER_LOYAL_MIN_EVENTS events of MEMBER_LOYAL_EVENT_KINDS (empty: any
# kind) in the last MEMBER_LOYAL_WINDOW_DAYS days; every other active member is growing.
MEMBER_LOYAL_WINDOW_DAYS = env.int("MEMBER_LOYAL_WINDOW_DAYS", default=90)
MEMBER_LOYAL_MIN_EVENTS = env.int("MEMBER_LOYAL_MIN_EVENTS", default=3)
MEMBER_LOYAL_EVENT_KINDS = env.list("MEMBER_LOYAL_EVENT_KINDS", default=["purchase"])
CELERY_BEAT_SCHEDULE |= {
    # Holds and manual tiers that ended (chunked, idempotent).
    "members-tiers-review": {"task": "members.tasks.tiers_review_task", "schedule": 3600.0},
    # Nightly, 02:30 platform time.
    "members-lifecycle-recompute": {
        "task": "members.tasks.lifecycle_recompute_task",
        "schedule": crontab(hour=2, minute=30),
    },
}
CELERY_BEAT_SCHEDULE |= {
    # Tier benefits (entitlements/services/periodic.py, upgrades.py). Every period
    # (day, week, month, quarter, year) starts at a midnight, platform time.
    "benefits-period-grants": {
        "task": "entitlements.tasks.period_grants_task",
        "schedule": crontab(hour=0, minute=5),
    },
    # The safety net for on_upgrade grants whose task was lost.
    "benefits-upgrade-grants": {
        "task": "entitlements.tasks.upgrade_grants_missing_task",
        "schedule": 3600.0,
    },
}
# The nightly each_period run split over this many tasks (members by id modulo), for
# several workers to share (docs/BENCHMARKS.md, "Benefits (issue 13)").
BENEFITS_PERIOD_SHARDS = env.int("BENEFITS_PERIOD_SHARDS", default=1)

# --- Security (production values; `check --deploy` must be clean with DEBUG off) -------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "riskcontrol.core.request_context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

# --- Card-stock files: limits (a hostile file is refused, never read without bounds) --------
# Uploads larger than this are refused while they arrive (nothing is kept).
CARD_STOCK_UPLOAD_MAX_BYTES = env.int("CARD_STOCK_UPLOAD_MAX_BYTES", default=256 * 1024 * 1024)
# Files (or XLSX contents) larger than this are checked and imported by a worker only.
CARD_STOCK_SYNC_BYTES = env.int("CARD_STOCK_SYNC_BYTES", default=2 * 1024 * 1024)
# Time budget of one pass over a file: in the web process (then the worker takes over)
# and in a worker (then the job fails with the reason).
CARD_STOCK_SYNC_READ_SECONDS = env.float("CARD_STOCK_SYNC_READ_SECONDS", default=20.0)
CARD_STOCK_READ_SECONDS = env.float("CARD_STOCK_READ_SECONDS", default=3600.0)
# A cell holds at most this many characters (a longer one is a row error); values may
# stand in this many columns.
CARD_STOCK_MAX_CELL_CHARS = env.int("CARD_STOCK_MAX_CELL_CHARS", default=1024)
CARD_STOCK_MAX_COLUMNS = env.int("CARD_STOCK_MAX_COLUMNS", default=64)
# XLSX: the file itself, what any one part expands to, and its shared texts.
CARD_STOCK_XLSX_MAX_BYTES = env.int("CARD_STOCK_XLSX_MAX_BYTES", default=64 * 1024 * 1024)
CARD_STOCK_XLSX_MAX_PART_BYTES = env.int(
    "CARD_STOCK_XLSX_MAX_PART_BYTES", default=1024 * 1024 * 1024
)
CARD_STOCK_XLSX_MAX_SHARED_STRINGS = env.int(
    "CARD_STOCK_XLSX_MAX_SHARED_STRINGS", default=4_000_000
)
CARD_STOCK_XLSX_MAX_SHARED_CHARS = env.int(
    "CARD_STOCK_XLSX_MAX_SHARED_CHARS", default=128 * 1024 * 1024
)
# --- Request limits (partner API and console) -----------------------------------------
# Bodies above this many bytes answer 413 `payload_too_large` under /api/v1 (Django's
# own default, made explicit); JSON nested deeper than API_JSON_MAX_DEPTH answers 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"] = {"ident": str}
