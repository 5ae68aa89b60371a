from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.functional import empty


class CookieLocaleMiddleware(LocaleMiddleware):
    """Simplified Chinese unless the user chose otherwise with the language switch.

    Django's LocaleMiddleware also follows the browser's Accept-Language header; the portal's
    users work in Chinese whatever their browser says, so only the switch's cookie counts.
    """

    def process_request(self, request):
        supported = {code for code, _name in settings.LANGUAGES}
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class HtmxRefreshOnDeniedMiddleware:
    """An HTMX request that is refused (403/404) reloads the whole page.

    A fragment request can lose its right mid-page: the big screen polling after the creator
    revoked access, a dialog opened just before a grant lapsed. htmx does not swap error
    responses, so without this the page would sit stale (and keep polling); a reload shows the
    page the user may see now — the fallback perspective, the locked cards, or the error page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in (403, 404) and request.headers.get("HX-Request") == "true":
            response["HX-Refresh"] = "true"
        return response


# No inline script anywhere (the language switch's handler lives in static/js/portal.js); inline
# style attributes are allowed (templates and the SVG charts use a few), scripts and everything
# else only from the portal itself. Django's admin is built for such a policy.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Sends the portal's Content-Security-Policy with every response that has none yet: an
    injected ``<script>`` or ``onclick=`` would not run, and no page can be framed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class PrivateCacheMiddleware:
    """``Cache-Control: private, no-store`` on every response to a signed-in user (pages, fragments,
    CSV exports, redirects): no shared proxy keeps a creator's data, and the browser does not show
    it again from its cache (the back button) after logout.

    Only a user some part of the request already loaded counts (every page behind the login does:
    ``LoginRequiredMiddleware`` asks); this never loads one itself, so ``/healthz`` stays free of
    database queries.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        wrapped = getattr(user, "_wrapped", user)
        if wrapped is not None and wrapped is not empty and wrapped.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, with one difference: a session that cannot be saved because the
    database is unreachable is not a "400 session interrupted".

    Django turns every database error of the session's save into ``SessionInterrupted`` (400, "the
    user may have logged out"). When the cause is the database being down or hung: a POST already
    answered with success (its change is committed: a redirect, an HTMX refresh) keeps that answer —
    only its message is lost, the change is still reported; anything else is the database error
    itself, which the portal answers with 503 and ``Retry-After`` (``portal.views.server_error``).
    """

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except SessionInterrupted as error:
            cause = error.__context__.__context__ if error.__context__ is not None else None
            if not isinstance(cause, OperationalError | InterfaceError):
                raise
            if request.method == "POST" and response.status_code < 400:
                return response
            raise cause from error
