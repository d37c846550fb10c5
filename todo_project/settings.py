"""Settings for the task API: every value is read from the environment here, and only here.

Development defaults are safe and need no configuration; with ``DJANGO_DEBUG`` off the
secrets must be set and strong, or start-up fails with ``ImproperlyConfigured``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Values already in the environment win over the file.
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Published in this repository, so never acceptable outside development.
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-this-in-production-0123"
_DEV_AUTH_SECRET = "development-only-better-auth-secret-do-not-deploy"


def _secret(name: str, *, dev_default: str, min_length: int) -> str:
    value = env.str(name, default="")
    if not value:
        if DEBUG:
            return dev_default
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off.")
    if not DEBUG and value == dev_default:
        raise ImproperlyConfigured(f"{name} is the published development value; set a real secret.")
    if len(value.encode()) < min_length:
        raise ImproperlyConfigured(f"{name} must be at least {min_length} bytes long.")
    return value


def _limit(name: str, default: int) -> int:
    """A count or a number of seconds that must be at least 1."""
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a positive number.")
    return value


SECRET_KEY = _secret("DJANGO_SECRET_KEY", dev_default=_DEV_SECRET_KEY, min_length=50)
BETTER_AUTH_SECRET = _secret("BETTER_AUTH_SECRET", dev_default=_DEV_AUTH_SECRET, min_length=32)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "common.apps.ThrottledAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "drf_standardized_errors",
    "axes",
    "common.apps.CommonConfig",
    "authjwt",
    "tasks",
]

MIDDLEWARE = [
    "common.middleware.RequestLogMiddleware",
    "common.limits.QueryStringLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.errors.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "todo_project.urls"
WSGI_APPLICATION = "todo_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates: the admin's Forbidden page (common/templates) and the docs pages
        # (todo_project/urls.py).
        "DIRS": [BASE_DIR / "common" / "templates", BASE_DIR / "todo_project" / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Not ATOMIC_REQUESTS: it would wrap reads too, in BEGIN and COMMIT, two round trips that buy a read nothing
# (each statement sees its own snapshot either way). Each write is one transaction, in tasks/services.py.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that skips the SELECT 1 round trip while the socket is quiet
    # and timestamps parsed in C (todo_project/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "todo_project.postgresql"
    # Fail fast instead of hanging when PostgreSQL is unreachable; a
    # ``?connect_timeout=`` in DATABASE_URL overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # No statement may run longer than this, so no request can hold a connection for long; and no JIT:
    # PostgreSQL compiling a huge WHERE clause ignored cancellation and termination for minutes.
    # 0 turns a timeout off (e.g. for ``DATABASE_STATEMENT_TIMEOUT=0 manage.py migrate`` on a large table).
    DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=5)
    # A transaction left open between statements (a worker stuck mid-request) holds its row locks until this.
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT = env.float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default=10)
    _bounds = (
        f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT * 1000)} "
        f"-c idle_in_transaction_session_timeout={round(DATABASE_IDLE_IN_TRANSACTION_TIMEOUT * 1000)} -c jit=off"
    )
    # A page read at random costs the planner 1.1 sequential reads, as on SSD or from cache (PostgreSQL's default
    # of 4 is a spinning disk's). At 4, the plan a connection keeps for a prepared list statement, and the plan for
    # any user the statistics do not single out, read and sorted all of a user's tasks for a page of them; at 1.1
    # each list walks its index in the list's order and stops at the page's end (tasks/tests/test_query_plans.py).
    _planner = "-c random_page_cost=1.1"
    # libpq applies ``-c`` options in order: any ``?options=`` in DATABASE_URL comes after ours, and wins.
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = f"{_bounds} {_planner} {_options.get('options', '')}".strip()
    # Parameters sent apart from the SQL, and each statement a connection runs a fifth time prepared: PostgreSQL
    # then parses and plans it once per connection, not per request (half its CPU on a retrieve, bench/NOTES.md).
    # Off for a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        _options.setdefault("server_side_binding", True)
        _options.setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttle counts must be shared by every worker process: with REDIS_URL they live in Redis,
# without it in each process's own memory (fine for one process, wrong for several).
REDIS_URL = env.str("REDIS_URL", default="")
# Redis sits next to us and answers in well under a millisecond: one that takes longer than this is
# failing, and each request waiting for it would pay the wait (common/cache.py).
REDIS_TIMEOUT_MS = _limit("REDIS_TIMEOUT_MS", 50)
# After a failure, Redis is not asked again for this long: requests go unthrottled meanwhile.
REDIS_RETRY_SECONDS = _limit("REDIS_RETRY_SECONDS", 10)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "common.cache.FailFastRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_MS / 1000,
                "socket_timeout": REDIS_TIMEOUT_MS / 1000,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Browsers may call the API from these origins only; others get no CORS headers. In development, the usual
# front-end dev servers' (Next.js, Vite).
_DEV_ORIGINS = ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"]
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=_DEV_ORIGINS if DEBUG else [])
CORS_URLS_REGEX = r"^/api/.*$"
# The conditional-request headers let a page use ETags: If-None-Match to revalidate, If-Match to write safely.
# Idempotency-Key lets a page retry a write safely, and Idempotent-Replayed tells it the answer is a repeat.
CORS_ALLOW_HEADERS = ["authorization", "content-type", "x-request-id", "if-match", "if-none-match", "idempotency-key"]
CORS_EXPOSE_HEADERS = ["etag", "location", "retry-after", "x-request-id", "idempotent-replayed"]

# A CSRF failure outside the admin is a 403 in the API's error shape, not Django's HTML page.
CSRF_FAILURE_VIEW = "common.errors.csrf_failure"

# Security headers (nosniff, Referrer-Policy: same-origin) are Django's defaults; framing is denied.
X_FRAME_OPTIONS = "DENY"
# For deployments behind TLS: each is off unless the environment turns it on.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that always sets this header itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out login before ModelBackend computes a password hash.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Admin login lockout (django-axes): after this many failures within the lockout period, for one username from
# any address or from one address for any username, every login is refused for that long after the last try.
# Unlock early: `manage.py axes_reset_username NAME`, `manage.py axes_reset_ip ADDRESS`, or delete the
# admin's "Access attempts" rows.
AXES_FAILURE_LIMIT = _limit("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_limit("ADMIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The address the API's throttles use (REST_FRAMEWORK["NUM_PROXIES"]), not django-ipware's own guess.
AXES_CLIENT_IP_CALLABLE = "common.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "common.admin.locked_out"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Swagger UI, ReDoc and the admin's assets are served by the app itself, collected or not.
WHITENOISE_USE_FINDERS = True

# A task is a few kilobytes at most; a larger body is refused with a 413 (see common/errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
# Except a batch's (tasks/batch.py): room for API_MAX_BATCH_OPERATIONS operations at every field's maximum length
# in UTF-8. deploy/nginx.conf gives the batch route the same bound (a test holds them equal).
API_MAX_BATCH_BODY = 1024 * 1024


# What one request can make the API read is bounded (README, "Limits"); past a bound it is a 400 saying so.
# The query string of any /api/ request, in bytes as sent (percent-encoded).
API_MAX_QUERY_STRING = _limit("API_MAX_QUERY_STRING", 2048)
# ?search=: its length in characters, and its words (each one a pair of LIKEs over the user's tasks).
API_SEARCH_MAX_LENGTH = _limit("API_SEARCH_MAX_LENGTH", 200)
API_SEARCH_MAX_WORDS = _limit("API_SEARCH_MAX_WORDS", 10)
# Repeated ?tag= filters (each one a LIKE over the user's tasks).
API_MAX_TAG_FILTERS = _limit("API_MAX_TAG_FILTERS", 10)
# The change feed (GET …/tasks/changes/): tasks per answer unless ?limit= says, and at most (larger is capped).
API_CHANGES_PAGE_SIZE = _limit("API_CHANGES_PAGE_SIZE", 100)
API_CHANGES_MAX_PAGE_SIZE = _limit("API_CHANGES_MAX_PAGE_SIZE", 500)

# Soft-deleted tasks are hard-deleted this many days after their deletion by `manage.py purge_deleted_tasks`,
# which deletes this many per transaction so that no lock is held for long.
TASK_RETENTION_DAYS = _limit("TASK_RETENTION_DAYS", 30)
TASK_PURGE_BATCH_SIZE = _limit("TASK_PURGE_BATCH_SIZE", 500)

# Idempotency-Key (common/idempotency.py): how long a key's answer is kept and replayed (its row is deleted after,
# by purge_idempotency_keys), and how long a request waits for a concurrent one with the same key before a 409.
IDEMPOTENCY_KEY_TTL_HOURS = _limit("IDEMPOTENCY_KEY_TTL_HOURS", 24)
IDEMPOTENCY_KEY_WAIT_MS = _limit("IDEMPOTENCY_KEY_WAIT_MS", 1000)

# Recurring tasks (tasks/recurrence.py): the work one expansion of a rule may do, in steps (each day of the calendar
# it examines, each occurrence it produces counting 8), before it stops: a completion then moves the task as far
# as it got, or completes it for good when it found nothing. It bounds the CPU a rule that never matches can cost.
RECURRENCE_MAX_STEPS = _limit("RECURRENCE_MAX_STEPS", 100_000)

# Operations in one POST …/tasks/batch/: each is a write, charged to the user's rate like a request of its own.
API_MAX_BATCH_OPERATIONS = _limit("API_MAX_BATCH_OPERATIONS", 100)

# Subtasks (tasks/tree.py): how many levels tasks nest (a top-level task is level 1), and how many live tasks one tree
# holds (a top-level task and its subtasks at every level), which bounds what deleting or completing one task writes.
API_MAX_TASK_DEPTH = _limit("API_MAX_TASK_DEPTH", 4)
API_MAX_TASK_TREE_SIZE = _limit("API_MAX_TASK_TREE_SIZE", 1000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["authjwt.authentication.BetterAuthJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.DepthSafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "tasks.filters.TaskSearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "tasks.pagination.TaskPagination",
    "DEFAULT_METADATA_CLASS": "common.metadata.RouteMetadata",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.metadata.ContentNegotiation",
    # Per token user, and per client address for requests that are not (or fail to be) authenticated.
    "DEFAULT_THROTTLE_CLASSES": [
        "common.throttling.AtomicAnonRateThrottle",
        "common.throttling.AtomicUserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_ANON_THROTTLE_RATE", default="100/minute"),
        "user": env.str("API_THROTTLE_RATE", default="1000/hour"),
        # Admin login POSTs per client address, checked before any password hash (common/admin.py).
        "admin_login": env.str("ADMIN_LOGIN_THROTTLE_RATE", default="10/minute"),
    },
    # How many proxies in front of us append to X-Forwarded-For; 0 trusts none of it. 1: the edge
    # (deploy/nginx.conf), whose gunicorn socket has no client address; 2 behind a load balancer as well.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=1),
    "DEFAULT_SCHEMA_CLASS": "todo_project.schema.ErrorExamplesAutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "common.errors.ApiExceptionHandler",
    # The error responses the schema documents: the package's defaults plus our 409, 412, 413, 422 and 503 (409
    # and 422 only where Idempotency-Key is taken: common/schema.py).
    "ALLOWED_ERROR_STATUS_CODES": [
        *("400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "429", "500", "503"),
    ],
    # The package has no schema for a 409, 412, 413, 422 or 503, and its 401 lists codes other than ours.
    "ERROR_SCHEMAS": {
        "401": "authjwt.schema.ErrorResponse401Serializer",
        "409": "common.schema.ErrorResponse409Serializer",
        "422": "common.schema.ErrorResponse422Serializer",
        "412": "common.schema.ErrorResponse412Serializer",
        "413": "common.schema.ErrorResponse413Serializer",
        "503": "common.schema.ErrorResponse503Serializer",
    },
}


def _jwt_secrets(value: str) -> list[str]:
    # Several comma-separated secrets rotate without downtime: tokens signed with any of them are
    # accepted, new ones (mint_token's) are signed with the first. Each must be strong on its own.
    secrets = [secret.strip() for secret in value.split(",")]
    for secret in secrets:
        if len(secret.encode()) < 32:
            raise ImproperlyConfigured("Each secret in BETTER_AUTH_SECRET must be at least 32 bytes long.")
        if not DEBUG and secret == _DEV_AUTH_SECRET:
            raise ImproperlyConfigured("BETTER_AUTH_SECRET holds the published development value; set a real secret.")
    return secrets


def _jwt_algorithms(names: list[str]) -> list[str]:
    # PyJWT's list of the algorithms that need a public-key library: exactly the asymmetric ones.
    # Never an HMAC one: a JWKS is public, so an HMAC "key" from it would be a published secret.
    from jwt.algorithms import requires_cryptography

    names = [name.strip() for name in names]
    for name in names:
        if name not in requires_cryptography:
            raise ImproperlyConfigured(f"JWT_ALGORITHMS may only name asymmetric algorithms, not {name!r}.")
    return names


JWT_SECRETS = _jwt_secrets(BETTER_AUTH_SECRET)
# Better Auth's jwt plugin publishes its public keys at {BETTER_AUTH_URL}/api/auth/jwks.
# Unset, only HS256 tokens are accepted.
JWT_JWKS_URL = env.str("JWT_JWKS_URL", default="")
if JWT_JWKS_URL and not JWT_JWKS_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("JWT_JWKS_URL must be an http:// or https:// URL.")
JWT_JWKS_CACHE_SECONDS = _limit("JWT_JWKS_CACHE_SECONDS", 300)
# The longest a token may live, from its iat (or from now without one): longer ones are refused.
JWT_MAX_TOKEN_LIFETIME = _limit("JWT_MAX_TOKEN_LIFETIME", 86400)
JWT_ALGORITHMS = _jwt_algorithms(env.list("JWT_ALGORITHMS", default=["EdDSA", "ES256", "RS256"]))

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    # simplejwt's own default backend signs with this; authjwt signs with JWT_SECRETS[0] and checks each.
    "SIGNING_KEY": JWT_SECRETS[0],
    "ISSUER": env.str("JWT_ISSUER", default=None),
    "AUDIENCE": env.str("JWT_AUDIENCE", default=None),
    "LEEWAY": env.int("JWT_LEEWAY_SECONDS", default=30),
    "USER_ID_CLAIM": env.str("JWT_USER_ID_CLAIM", default="sub"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Better Auth tokens carry neither simplejwt's token type nor a jti.
    "TOKEN_TYPE_CLAIM": None,
    "JTI_CLAIM": None,
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Task API",
    "DESCRIPTION": "Each user's tasks, under /api/{user_id}/tasks/, for Bearer JWTs from the sign-in front end.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs are public: a stale token sent along must not turn them into a 401.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components, without the read-only fields.
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-standardized-errors' error components share field names ("type", "code", "attr") across
    # different choice sets: its own enum hook and one name per choice set keep the names stable.
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "todo_project.schema.tasks_first",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ParseErrorCodeEnum": "drf_standardized_errors.openapi_serializers.ParseErrorCodeEnum.choices",
        "ErrorCode401Enum": "authjwt.schema.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode409Enum": "common.schema.ErrorCode409Enum.choices",
        "ErrorCode412Enum": "common.schema.ErrorCode412Enum.choices",
        "ErrorCode413Enum": "common.schema.ErrorCode413Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode422Enum": "common.schema.ErrorCode422Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "ErrorCode503Enum": "common.schema.ErrorCode503Enum.choices",
    },
}

# One JSON object per line on stderr, each carrying the request id of the request it belongs to.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "common.middleware.RequestIdFilter"},
        # No query string and no line past a bound, whichever logger wrote it (common/logsafe.py).
        "redact": {"()": "common.logsafe.RedactFilter"},
    },
    "formatters": {
        "json": {
            "()": "common.logsafe.RedactingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id", "redact"]},
    },
    "root": {"handlers": ["stderr"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # 4xx are in the request log and the security log already; keep django.request for 5xx tracebacks.
        "django.request": {"level": "ERROR"},
        # runserver's own access log duplicates the request log.
        "django.server": {"level": "WARNING"},
        # Each failure and lockout is on todo.security already; axes' own INFO lines are per-attempt chatter.
        "axes": {"level": "WARNING"},
    },
}
