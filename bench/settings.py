"""Settings for the benchmark: the production settings, pointed at the bench database.

``python -m bench`` sets ``BENCH_DATABASE_URL`` (the bench's own database, never the main or the
test one), ``BENCH_STATIC_ROOT`` (a temporary collectstatic target) and a random secret key; the
gunicorn it starts inherits the same environment, so sessions made by the harness are valid there.
"""

import os

import dj_database_url

from portal.settings import *  # noqa: F403
from portal.settings import ALLOWED_HOSTS, TEMPLATES
from portal.settings import DATABASES as _PROJECT_DATABASES

DATABASES = {
    "default": {
        **dj_database_url.parse(os.environ["BENCH_DATABASE_URL"], conn_max_age=600, conn_health_checks=True),
        # the project's connection options (time limits, server-side binding: portal/settings.py)
        "OPTIONS": (
            dict(_PROJECT_DATABASES["default"].get("OPTIONS", {}))
            if _PROJECT_DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
            else {}
        ),
    }
}
# The project's urls plus one template-only page (the throughput baseline); see bench/urls.py.
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT") or None
TEMPLATES_PLAIN_DIR = os.environ.get("BENCH_PLAIN_DIR", "")
# The gated page is also measured without the bell (bench/urls.py): its context processor is wrapped.
TEMPLATES = [
    {
        **TEMPLATES[0],
        "OPTIONS": {
            **TEMPLATES[0]["OPTIONS"],
            "context_processors": [
                "bench.urls.bell" if name == "notifications.context_processors.bell" else name
                for name in TEMPLATES[0]["OPTIONS"]["context_processors"]
            ],
        },
    }
]
