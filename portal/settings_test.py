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
# The suite runs on one database whatever the environment says: the replica tests
# (tests/replicas/) point the portal at the replica pair themselves.
DATABASES.pop("replica", None)  # noqa: F405
DATABASE_ROUTERS = []
MIDDLEWARE = [name for name in MIDDLEWARE if name != "portal.replicas.ReplicaMiddleware"]  # noqa: F405
# Tasks run at once when enqueued (emails land in mail.outbox); tests that need the queue itself
# switch to the database backend with override_settings.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
