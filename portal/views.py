from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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
    """For the load balancer: the process answers (no database access)."""
    return HttpResponse("ok", content_type="text/plain")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused POST (missing or stale CSRF token) explained in the portal's own page."""
    return render(request, "403_csrf.html", status=403)
