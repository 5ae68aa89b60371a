"""Logging filters of the portal (configured in ``settings.LOGGING``)."""

from __future__ import annotations

import logging
import re

from django.utils.functional import empty


class ForbiddenOneLine(logging.Filter):
    """A refused request (403) is logged as one line: user, path, reason — without the traceback.

    Django logs every ``PermissionDenied`` on ``django.request`` with its traceback; in this portal a
    403 is the access rules doing their job (a user following an old link, a probe), hundreds a day,
    and the tracebacks bury the errors that matter. The reason is the exception's message, when it
    has one. Everything else passes unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403:
            return True
        request = getattr(record, "request", None)
        error = record.exc_info[1] if record.exc_info else None
        record.msg = "Forbidden: user=%s path=%s reason=%s"
        record.args = (_user_of(request), getattr(request, "path", "?"), str(error or "") or "-")
        record.exc_info = None
        record.exc_text = None
        return True


def _user_of(request) -> str:
    """The signed-in user's name, or ``anonymous``; never a database query (a lazy user not loaded
    yet is reported as ``?``), and never an error from logging."""
    user = getattr(request, "user", None)
    if user is None:
        return "-"
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:  # the request's lazy user, not loaded by anything yet
        return "?"
    try:
        return wrapped.get_username() or "anonymous"
    except Exception:  # noqa: BLE001 - logging must never fail the response
        return "?"


class RedactSecretPaths(logging.Filter):
    """Paths that hold a secret (the private calendar feed, ``/calendar/<token>.ics``) are logged
    without it: Django logs every 404 (a regenerated feed's old URL, a wrong guess) with its path on
    ``django.request``, and the development server logs every request line on ``django.server``."""

    SECRET_PATH = re.compile(r"(/calendar/)[^/\s\"?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.SECRET_PATH.sub(r"\1…", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.SECRET_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True
