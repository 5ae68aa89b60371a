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
- ``DJANGO_EMAIL_URL``: the SMTP server, ``smtp://user:password@host:587?tls=1`` (``ssl=1`` for
  implicit TLS; ``smtps://`` means ``ssl=1``, ``submission://`` means port 587 with ``tls=1``), or
  the usual ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``,
  ``EMAIL_USE_TLS``, ``EMAIL_USE_SSL``, ``EMAIL_TIMEOUT``; neither: the console backend (mail is
  printed by the worker). ``DJANGO_DEFAULT_FROM_EMAIL`` is the sender, ``DJANGO_BASE_URL`` the
  portal's address in the links of emails.
"""

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
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: WAL and a busy timeout let the dev server and a second shell share the file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
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
LOCALE_PATHS = [BASE_DIR / "locale"]
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
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

AUTHENTICATION_BACKENDS = ["portal.backends.PortalBackend"]

# Background tasks (Django's Tasks API through the django-tasks backport): queued in the database,
# run by `python manage.py db_worker` (`make run` starts one beside the dev server).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


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
