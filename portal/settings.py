"""Settings for the creator data authorization portal.

Everything that differs between a laptop and production comes from the environment:

- ``DATABASE_URL``: any dj-database-url URL; defaults to a SQLite file beside manage.py.
- ``DJANGO_SECRET_KEY``: required in production; a fixed, clearly insecure key otherwise.
- ``DJANGO_DEBUG``: ``1`` for development (``make run`` sets it), ``0`` (the default) otherwise.
- ``DJANGO_ALLOWED_HOSTS``: comma-separated host names.
- ``DJANGO_CSRF_TRUSTED_ORIGINS``: comma-separated origins, when served behind a proxy.
- ``DJANGO_SECURE_SSL_REDIRECT``: ``0`` to switch the HTTPS redirect off (e.g. a load test on
  loopback); on by default when DEBUG is off.
- ``DJANGO_CACHE_URL``: a shared cache, ``redis://host:6379/0`` (needs the ``redis`` package) or
  ``memcached://host:11211`` (needs ``pymemcache``); unset, each process has its own memory cache.
  ``DJANGO_CACHE_KEY_PREFIX``: set it per release (e.g. the commit) when the cache is shared.
- ``DATABASE_REPLICA_URL``: a streaming read replica of ``DATABASE_URL`` for the data pages;
  ``DATABASE_REPLICA_MAX_LAG``, ``DATABASE_REPLICA_CHECK_SECONDS``, ``DATABASE_REPLICA_STICKY_SECONDS``
  tune it (``portal/replicas.py``).
- ``DATABASE_TRANSACTION_POOLING``: ``1`` behind PgBouncer in transaction mode (no server-side cursors).
- ``MINUTE_RETENTION_MONTHS``: whole months of minute data kept by ``manage.py prune_minutes``.
- ``DJANGO_DB_CONNECT_TIMEOUT`` (seconds), ``DJANGO_DB_STATEMENT_TIMEOUT`` (milliseconds, 0: none):
  a database that does not answer fails the request within seconds (503, ``DJANGO_RETRY_AFTER``).
- ``DJANGO_LOGIN_FAILURE_LIMIT``, ``DJANGO_LOGIN_COOLOFF_MINUTES``, ``DJANGO_PROXY_COUNT``: login
  throttling (django-axes, ``portal/throttle.py``).
- ``DJANGO_IMPORT_MAX_LINE_BYTES``, ``DJANGO_IMPORT_MAX_BYTES``: the import's limits (docs/import.md).
- ``DJANGO_EMAIL_URL``: the SMTP server, ``smtp://user:password@host:587?tls=1`` (``ssl=1`` for
  implicit TLS; ``smtps://`` means ``ssl=1``, ``submission://`` means port 587 with ``tls=1``), or
  the usual ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``,
  ``EMAIL_USE_TLS``, ``EMAIL_USE_SSL``, ``EMAIL_TIMEOUT``; neither: the console backend (mail is
  printed by the worker). ``DJANGO_DEFAULT_FROM_EMAIL`` is the sender, ``DJANGO_BASE_URL`` the
  portal's address in the links of emails.

The README's configuration table lists every variable with its default.
"""

import datetime
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "django-insecure-dev-only-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "portal.apps.PortalConfig",
    "grants.apps.GrantsConfig",
    "notifications.apps.NotificationsConfig",
    "livestreams.apps.LivestreamsConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.PrivateCacheMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    # Before the session, CSRF and database: a login post of a client locked out a moment ago is
    # refused at once (portal/throttle.py).
    "portal.throttle.LockedOutMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, but a session the database cannot save is a 503, not a 400 (portal/middleware.py).
    "portal.middleware.SessionMiddleware",
    "portal.middleware.CookieLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.HtmxRefreshOnDeniedMiddleware",
    "grants.perspective.PerspectiveMiddleware",
    # Last, as django-axes asks: turns a locked-out login into portal.throttle.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.party",
                # The bell first: for a creator, grants' processor counts the unread messages in
                # the same query as its pending badges, and its answer replaces the bell's.
                "notifications.context_processors.bell",
                "grants.context_processors.perspective",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Time limits, so that a database that accepts connections but never answers, or a query stuck
# behind a lock, fails the request within seconds (503 with Retry-After: portal/views.py) instead of
# holding a worker until gunicorn kills it. connect_timeout bounds opening a connection (the
# handshake included); statement_timeout is enforced by the server on every statement of the
# connection. 0 switches the statement limit off, e.g. for a long migration:
# DJANGO_DB_STATEMENT_TIMEOUT=0 python manage.py migrate.
DB_CONNECT_TIMEOUT = int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "3"))
DB_STATEMENT_TIMEOUT_MS = int(os.environ.get("DJANGO_DB_STATEMENT_TIMEOUT", "15000"))
if DATABASES["default"].get("ENGINE") == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
    if DB_STATEMENT_TIMEOUT_MS:
        _options["options"] = f"{_options.get('options', '')} -c statement_timeout={DB_STATEMENT_TIMEOUT_MS}".strip()
# A 503 for a database error tells clients and proxies when to try again (seconds).
RETRY_AFTER_SECONDS = int(os.environ.get("DJANGO_RETRY_AFTER", "5"))
# /readyz: the database must answer on a fresh connection within this many seconds.
READY_TIMEOUT_SECONDS = int(os.environ.get("DJANGO_READY_TIMEOUT", "2"))

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: WAL and a busy timeout let the dev server and a second shell share the file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

# A streaming read replica (docs/scaling.md): data pages read the livestream data from it while it
# lags by at most DATABASE_REPLICA_MAX_LAG seconds; every access decision, write and session stays
# on the primary (portal/replicas.py). Without DATABASE_REPLICA_URL: one database, no router.
DATABASE_REPLICA_MAX_LAG = float(os.environ.get("DATABASE_REPLICA_MAX_LAG", "5"))
DATABASE_REPLICA_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_CHECK_SECONDS", "2"))
# A user who changed something reads the primary this long: past it, a replica within its bound
# (measured at most CHECK_SECONDS ago) has their change.
DATABASE_REPLICA_STICKY_SECONDS = float(
    os.environ.get("DATABASE_REPLICA_STICKY_SECONDS") or DATABASE_REPLICA_MAX_LAG + DATABASE_REPLICA_CHECK_SECONDS
)
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    # A replica that does not answer is skipped after 2 s, not after the operating system's minutes.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASE_ROUTERS = ["portal.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(MIDDLEWARE.index("portal.middleware.SessionMiddleware"), "portal.replicas.ReplicaMiddleware")

# Behind PgBouncer in transaction mode a server connection serves a client for one transaction
# only: a cursor kept across transactions (the CSV export's .iterator()) would be lost. Django's own
# queries bind their parameters client-side with psycopg 3, so no prepared statement is involved.
if env_bool("DATABASE_TRANSACTION_POOLING", False):
    for _database in DATABASES.values():
        _database["DISABLE_SERVER_SIDE_CURSORS"] = True
# Prepared statements (docs/performance.md item 22): with server-side binding psycopg 3 sends a
# query's parameters apart from its text and, from a query's fifth run on a connection, prepares it,
# so PostgreSQL stops planning the hot queries (sessions, users, access decisions) on every request.
# A prepared statement lives in one server connection: behind PgBouncer in transaction mode (before
# 1.21's max_prepared_statements) turn it off with DATABASE_SERVER_SIDE_BINDING=0, which
# DATABASE_TRANSACTION_POOLING=1 also does.
DATABASE_SERVER_SIDE_BINDING = env_bool("DATABASE_SERVER_SIDE_BINDING", True) and not env_bool(
    "DATABASE_TRANSACTION_POOLING", False
)
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql" and DATABASE_SERVER_SIDE_BINDING:
        _database.setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})

# Minute data (the largest table) is kept for this many whole months before the current one by
# `manage.py prune_minutes` (livestreams/partitions.py); unset, nothing is pruned.
MINUTE_RETENTION_MONTHS = (
    int(os.environ["MINUTE_RETENTION_MONTHS"]) if os.environ.get("MINUTE_RETENTION_MONTHS") else None
)

# The cache holds the rendered modules of ended livestreams (livestreams/views.py), content that
# never changes under its key, so a per-process memory cache is correct: each worker fills its own.
# In production a shared cache (Redis or Memcached, DJANGO_CACHE_URL) lets the workers and machines
# share one copy; a new release's templates then need a new key prefix.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal",
        "OPTIONS": {"MAX_ENTRIES": 1000},  # 8–40 kB each here: tens of MB per worker at most
    }
}
_CACHE_BACKENDS = {
    "redis": "django.core.cache.backends.redis.RedisCache",
    "rediss": "django.core.cache.backends.redis.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
}
if os.environ.get("DJANGO_CACHE_URL"):
    _scheme, _, _location = os.environ["DJANGO_CACHE_URL"].partition("://")
    if _scheme not in _CACHE_BACKENDS:
        raise ImproperlyConfigured(f"DJANGO_CACHE_URL: use redis://, rediss:// or memcached:// (got {_scheme}://)")
    CACHES["default"] = {
        "BACKEND": _CACHE_BACKENDS[_scheme],
        "LOCATION": os.environ["DJANGO_CACHE_URL"] if _scheme.startswith("redis") else _location,
    }
CACHES["default"]["KEY_PREFIX"] = os.environ.get("DJANGO_CACHE_KEY_PREFIX", "")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Language and time: the platform's calendar is Asia/Shanghai; "today" is localdate() there.
LANGUAGE_CODE = "zh-hans"
# Each language is named in itself in the switch, so these names are not translated.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# locale/ is the portal's own catalogue (make messages); locale_overrides/ holds Simplified Chinese
# for Django's and django-axes' strings that their own zh_Hans catalogues lack (see its README).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_overrides"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# In development WhiteNoise serves straight from the app folders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if not DEBUG:
    # Production behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The HTTPS redirect must not hit the load balancer's plain-HTTP health check.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused request (403) is one line (user, path, reason), not a traceback: portal/log_filters.py.
    # A path holding a secret (the calendar feed's token) is logged without it.
    "filters": {
        "forbidden_one_line": {"()": "portal.log_filters.ForbiddenOneLine"},
        "redact_secret_paths": {"()": "portal.log_filters.RedactSecretPaths"},
    },
    # django.server (the development server's request lines) as Django configures it, plus the filter.
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {"level": "INFO", "class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "loggers": {
        "django.request": {"filters": ["forbidden_one_line", "redact_secret_paths"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_secret_paths"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

# PortalBackend is also django-axes' backend: it refuses a locked-out login before any password is
# hashed (portal/backends.py, portal/throttle.py).
AUTHENTICATION_BACKENDS = ["portal.backends.PortalBackend"]

# Login throttling (django-axes): failures counted per username and, separately, per client address;
# at the limit either is locked out for the cool-off (or until staff unlock it: the admin's access
# attempts, or manage.py axes_reset_username NAME / axes_reset_ip ADDRESS / axes_reset).
AXES_FAILURE_LIMIT = int(os.environ.get("DJANGO_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("DJANGO_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "portal.throttle.lockout_response"
AXES_USERNAME_CALLABLE = "portal.throttle.client_username"
AXES_CLIENT_IP_CALLABLE = "portal.throttle.client_ip"
AXES_RESET_ON_SUCCESS = False  # a success must not wipe an address's count (an attacker's own account)
# While locked out, further attempts are refused without writing anything (no row lock, no growing
# row): the cool-off runs from the failure that reached the limit.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not the question; keeps each login one write less
AXES_VERBOSE = False
# Behind N trusted reverse proxies, the client address is the N-th from the right of X-Forwarded-For.
PORTAL_PROXY_COUNT = int(os.environ.get("DJANGO_PROXY_COUNT", "0"))

# Import limits (docs/import.md): one line, and the whole file once decompressed, in bytes.
IMPORT_MAX_LINE_BYTES = int(os.environ.get("DJANGO_IMPORT_MAX_LINE_BYTES", str(4 * 1024 * 1024)))
IMPORT_MAX_BYTES = int(os.environ.get("DJANGO_IMPORT_MAX_BYTES", str(2 * 1024**3)))

# Background tasks (Django's Tasks API through the django-tasks backport): queued in the database,
# run by `python manage.py db_worker` (`make run` starts one beside the dev server).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Jobs the workers run by themselves (`manage.py worker`, notifications/schedule.py): name →
# (management command, how often). Each run is queued once however many workers there are.
PERIODIC_JOBS = {
    "send_reminders": ("send_reminders", datetime.timedelta(hours=1)),
    # the minute table's month partitions three months ahead (a no-op on SQLite): docs/scaling.md
    "minute_partitions": ("minute_partitions", datetime.timedelta(days=1)),
    # the data-access log's rows older than 180 days (SPEC §11)
    "purge_access_log": ("purge_access_log", datetime.timedelta(days=1)),
}


# --- email ------------------------------------------------------------------------------------
def email_settings(environ) -> dict:
    """Django's email settings from the environment: ``DJANGO_EMAIL_URL`` or the ``EMAIL_*``
    variables (SMTP), else the console backend."""

    def flag(value) -> bool:
        return str(value).strip().lower() in {"1", "true", "yes", "on"}

    url = environ.get("DJANGO_EMAIL_URL", "").strip()
    if url:
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps", "submission"):
            raise ImproperlyConfigured(f"DJANGO_EMAIL_URL: use smtp://, smtps:// or submission:// (got {scheme}://)")
        use_ssl = scheme == "smtps" or flag(query.get("ssl", ""))
        use_tls = scheme == "submission" or flag(query.get("tls", ""))
        if use_ssl and use_tls:
            raise ImproperlyConfigured("DJANGO_EMAIL_URL: tls and ssl exclude each other")
        default_port = 465 if use_ssl else 587 if use_tls else 25
        found = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname or "localhost",
            "EMAIL_PORT": parts.port or default_port,
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
        }
        if "timeout" in query:
            found["EMAIL_TIMEOUT"] = int(query["timeout"])
        return found
    if environ.get("EMAIL_HOST"):
        found = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": environ["EMAIL_HOST"],
            "EMAIL_PORT": int(environ.get("EMAIL_PORT") or 25),
            "EMAIL_HOST_USER": environ.get("EMAIL_HOST_USER", ""),
            "EMAIL_HOST_PASSWORD": environ.get("EMAIL_HOST_PASSWORD", ""),
            "EMAIL_USE_TLS": flag(environ.get("EMAIL_USE_TLS", "")),
            "EMAIL_USE_SSL": flag(environ.get("EMAIL_USE_SSL", "")),
        }
        if environ.get("EMAIL_TIMEOUT"):
            found["EMAIL_TIMEOUT"] = int(environ["EMAIL_TIMEOUT"])
        return found
    return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


globals().update(email_settings(os.environ))
EMAIL_TIMEOUT = globals().get("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "达人数据授权 <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The portal's address, for the links in emails (a task has no request to build them from).
PORTAL_BASE_URL = os.environ.get("DJANGO_BASE_URL", "http://127.0.0.1:8000")
