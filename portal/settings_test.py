"""Test settings: the production settings with a faster password hasher and plain static storage.

``make test`` and ``pytest`` use this module (see ``pyproject.toml``); ``DATABASE_URL`` still decides
the database, so the same suite runs on SQLite and on PostgreSQL.
"""

from .settings import *  # noqa: F403
from .settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests render templates without collectstatic; the manifest storage would need it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Static files straight from the app folders (no collectstatic in tests).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# With a replica configured, the test runner makes no database on it (it is read-only): the
# replica alias reads the primary's test database, where the router's rules still apply.
if "replica" in DATABASES:  # noqa: F405
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # noqa: F405
