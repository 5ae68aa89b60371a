"""The perspective switcher (视角): whose data is the user looking at?

A creator always works in their own perspective. An organization's main account works in its own
perspective or, after choosing a creator whose full-data grant to the organization is active, in
that creator's perspective (read-only, with a banner). The choice lives in the session, and every
request re-checks the grant: once it is revoked or expires, the request falls back to the
organization's own perspective with a message.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from portal.models import Creator

from . import access

SESSION_KEY = "perspective_creator_id"


@dataclass(frozen=True)
class Perspective:
    """``creator`` is set when a main account views a creator's data (``ends_on``: the grant's end)."""

    creator: Creator | None = None
    ends_on: datetime.date | None = None


OWN = Perspective()


def resolve(request) -> Perspective:
    """Re-check the session's perspective against the grants (one query when one is chosen)."""
    creator_id = request.session.get(SESSION_KEY)
    if creator_id is None:
        return OWN
    grant = access.active_grant_for_main_account(request.user, creator_id)
    if grant is None:
        forget(request)
        request.perspective_lost = creator_id
        if request.user.is_authenticated:
            messages.warning(request, _("达人对本机构的全部数据授权已失效，已切换回本机构视角。"))
        return OWN
    return Perspective(creator=grant.creator, ends_on=grant.ends_on)


def choose(request, creator_id: int) -> Perspective:
    """Switch a main account into ``creator_id``'s perspective; 404 without an active grant."""
    grant = access.active_grant_for_main_account(request.user, creator_id)
    if grant is None:
        raise Http404
    request.session[SESSION_KEY] = grant.creator_id
    request.perspective = Perspective(creator=grant.creator, ends_on=grant.ends_on)
    return request.perspective


def forget(request) -> None:
    request.session.pop(SESSION_KEY, None)


class PerspectiveMiddleware:
    """Sets ``request.perspective`` on every request, re-checking the grant each time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.perspective = OWN
        request.perspective_lost = None
        if request.user.is_authenticated and SESSION_KEY in request.session:
            request.perspective = resolve(request)
        return self.get_response(request)


def creator_data_view(view):
    """For every page of a creator's data: ``view(request, creator, ...)`` or 404.

    The creator sees their own data; a main account with an active grant sees it too (and is put
    into that creator's perspective); a main account whose grant just lapsed is sent back to its
    own perspective (the middleware has said why); everybody else gets 404, exactly as for a
    creator that does not exist.
    """

    @wraps(view)
    def wrapper(request, creator_id: int, *args, **kwargs):
        user = request.user
        own = user.creator_or_none
        if own is not None and own.pk == creator_id:
            return view(request, own, *args, **kwargs)
        perspective = request.perspective
        if perspective.creator is not None and perspective.creator.pk == creator_id:
            return view(request, perspective.creator, *args, **kwargs)  # re-checked by the middleware
        if request.perspective_lost == creator_id:
            return redirect("grants:org_home")
        if access.is_main_account(user):
            return view(request, choose(request, creator_id).creator, *args, **kwargs)
        raise Http404

    return wrapper
