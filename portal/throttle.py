"""Login throttling with django-axes: what the portal tells axes, and what a locked-out client sees.

Failed logins are counted per username and per client address (``AXES_LOCKOUT_PARAMETERS``); after
``AXES_FAILURE_LIMIT`` failures within ``AXES_COOLOFF_TIME`` either one is locked out until the
cool-off has passed or staff unlock it (the admin's 访问尝试 list, or ``manage.py axes_reset_username``
/ ``axes_reset_ip`` / ``axes_reset``). A locked-out attempt is refused by ``PortalBackend`` before any
password is hashed, so guessing cannot spend the server's CPU beyond the limit.

Usernames that do not exist are counted and locked exactly like real ones, and the lockout page names
neither the account nor the reason (username or address): it tells an attacker nothing about which
accounts exist.

A locked-out client that keeps posting must not cost much either: each lockout is remembered in the
cache for ``FAST_REFUSAL_SECONDS`` (``remember_lockout``), and ``LockedOutMiddleware``, ahead of the
session, CSRF and database, answers the next posts of that address or username with a fixed 429
page, no query. After that time (or an unlock by staff) the next post goes the full way again.
"""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from .forms import LoginForm

USERNAME_MAX = 150  # Django's username length; axes stores at most 255
# How long a worker refuses a locked-out address or username without asking the database: also how
# long an unlock by staff can take to reach every worker (the per-process cache is not shared).
FAST_REFUSAL_SECONDS = 30


def client_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username as the login form reads it (NFKC, like ``UsernameField``), fit for storage:
    NUL removed (PostgreSQL cannot store it) and cut to 150 characters, so ``ａｌｉｃｅ`` and
    ``alice`` share one counter and no posted value can break the attempt's row."""
    field = settings.AXES_USERNAME_FORM_FIELD
    value = credentials.get(field) if credentials else request.POST.get(field)
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFKC", value).replace("\x00", "")[:USERNAME_MAX]


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind ``DJANGO_PROXY_COUNT`` trusted proxies the
    address the outermost of them saw (that many entries from the right of ``X-Forwarded-For``), so
    a client cannot choose its own address by sending the header."""
    count = settings.PORTAL_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count][:39]
    return request.META.get("REMOTE_ADDR")


def cooloff_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """429 with ``Retry-After``: the login page with one message that does not say whether the
    account exists, nor whether the username or the address was locked."""
    form = LoginForm(request, initial={"username": client_username(request, credentials) or ""})
    message = _("登录尝试过于频繁，请 %(minutes)s 分钟后再试。如需立即解锁，请联系平台管理员。") % {
        "minutes": cooloff_minutes()
    }
    context = {"form": form, "lockout_message": message, "next": request.POST.get("next", "")}
    response = TemplateResponse(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    remember_lockout(request, credentials)
    return response.render()


def _fast_keys(request: HttpRequest, credentials: dict | None = None) -> list[str]:
    keys = [f"portal:login-locked:ip:{client_ip(request)}"]
    username = client_username(request, credentials)
    if username:
        digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        keys.append(f"portal:login-locked:user:{digest}")
    return keys


def remember_lockout(request: HttpRequest, credentials: dict | None = None) -> None:
    """Remember that this address and this username are locked out (see ``LockedOutMiddleware``)."""
    timeout = min(FAST_REFUSAL_SECONDS, int(settings.AXES_COOLOFF_TIME.total_seconds()))
    cache.set_many(dict.fromkeys(_fast_keys(request, credentials), True), timeout=timeout)


class LockedOutMiddleware:
    """A login post from an address or for a username locked out a moment ago is answered at once:
    429, ``Retry-After``, a fixed page naming neither — no session, CSRF check, password or query."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.login_path = None

    def __call__(self, request):
        if request.method == "POST":
            if self.login_path is None:
                self.login_path = reverse("login")
            if (
                request.path_info == self.login_path
                and settings.AXES_ENABLED
                and any(cache.get_many(_fast_keys(request)).values())
            ):
                response = HttpResponse(loader.get_template("registration/locked_out.html").render(), status=429)
                response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
                return response
        return self.get_response(request)
