import copy
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.i18n import set_language as django_set_language


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each party to its own home: a creator to their data, a member to the personal center."""
    user = request.user
    creator = user.creator_or_none
    if creator is not None:
        return redirect("livestreams:creator_overview", creator_id=creator.pk)
    if user.membership_or_none is not None:
        return redirect("grants:org_home")
    if user.is_staff:
        return redirect("admin:index")
    return redirect("no_party")


@require_GET
def no_party(request: HttpRequest) -> HttpResponse:
    """For an account that is neither a creator nor a member (and not staff): say so."""
    user = request.user
    if user.creator_or_none is not None or user.membership_or_none is not None:
        return redirect("home")
    return render(request, "portal/no_party.html", status=403)


# The language switch works on the login page too.
set_language = login_not_required(django_set_language)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness, for the process manager: the process answers (no database access, ever)."""
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness, for the load balancer: the database answers ``SELECT 1`` on a fresh connection
    within ``READY_TIMEOUT_SECONDS`` (200 ``ok``), or 503 with ``Retry-After``."""
    try:
        database_answers(timeout=settings.READY_TIMEOUT_SECONDS)
    except DatabaseError:
        response = HttpResponse("database unavailable", content_type="text/plain", status=503)
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
        return response
    return HttpResponse("ok", content_type="text/plain")


def database_answers(*, timeout: int, alias: str = DEFAULT_DB_ALIAS) -> None:
    """``SELECT 1`` on a connection of its own (never the request's, which may be mid-transaction or
    stuck), opened within ``timeout`` seconds and limited to as long on the server; raises
    ``DatabaseError`` otherwise."""
    settings_dict = copy.deepcopy(connections.settings[alias])
    if settings_dict["ENGINE"] == "django.db.backends.postgresql":
        options = settings_dict.setdefault("OPTIONS", {})
        options["connect_timeout"] = timeout
        options["options"] = f"-c statement_timeout={timeout * 1000}"
    probe = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        probe.close()


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a database that cannot be reached or answered in time (``OperationalError``,
    ``InterfaceError``, wherever raised: a view, a middleware, the session) is 503 with
    ``Retry-After`` and the portal's "服务暂时不可用" page; any other error is Django's 500 page.

    Neither page touches the database (no context processors, no session)."""
    if isinstance(sys.exception(), OperationalError | InterfaceError):
        return service_unavailable()
    return defaults.server_error(request)


def service_unavailable() -> HttpResponse:
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused POST (missing or stale CSRF token) explained in the portal's own page."""
    return render(request, "403_csrf.html", status=403)
