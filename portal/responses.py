"""Responses shared by the apps' views."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

logger = logging.getLogger(__name__)


def page_or_fragment(request: HttpRequest, template: str, fragment: str, context: dict) -> HttpResponse:
    """``template`` rendered whole, or only its partial ``fragment`` for an HTMX request that swaps
    part of the page (a tab, a filter, a page of rows); a boosted navigation gets the whole page."""
    if request.htmx and not request.htmx.boosted:
        template += f"#{fragment}"
    return render(request, template, context)


def after_write(request: HttpRequest, build: Callable[[], HttpResponse], *, fallback: str) -> HttpResponse:
    """The response to a request whose change is saved and whose success message is queued.

    ``build()`` makes the usual answer (a fragment, a refresh, a redirect). If it cannot be made —
    a header it reads is garbage, a bug in a template, the database gone between the commit and
    the page — the change is still reported, never a 500 after a successful write: a redirect to
    ``fallback`` (for HTMX, ``HX-Redirect``), whose page shows the queued success message. The
    error is logged with its traceback.
    """
    try:
        return build()
    except Exception:
        logger.exception("The change was saved, but its response failed; redirecting to %s", fallback)
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(fallback)
        return redirect(fallback)


def current_url(request: HttpRequest) -> SplitResult | None:
    """The page an HTMX request came from (``HX-Current-URL``), split; None when absent or not a URL
    (the header is the client's to send: ``http://[`` is not a URL)."""
    value = request.headers.get("HX-Current-URL")
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a bad port raises only when read
    except ValueError:
        return None
    return parts
