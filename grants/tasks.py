"""Background tasks of the grants app (Django's Tasks API, as ``notifications.tasks``)."""

from __future__ import annotations

try:  # Django 6
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task

from . import access_log
from .models import today


@task()
def purge_access_log() -> int:
    """The daily purge of the data-access log (``manage.py purge_access_log``): rows older than 180
    days. Returns how many went. The scheduled worker enqueues it once a day."""
    return access_log.purge(today=today())
