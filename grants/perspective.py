"""The perspective switcher (视角): whose data is the user looking at?

A creator always works in their own perspective. An organization's main account works in its own
perspective or, after choosing a creator whose data ``grants.access.creator_access`` opens to it,
in that creator's perspective (read-only, with a banner). The choice lives in the session, and
every request asks ``creator_access`` again: once the answer is empty (the grant was revoked or
expired), the request falls back to the organization's own perspective with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from . import access
from .models import AccessPage

SESSION_KEY = "perspective_creator_id"


@dataclass(frozen=True)
class Perspective:
    """``access`` is set when a user views a creator's data that is not their own: the answer of
    ``creator_access`` for that creator, asked on this request."""

    access: access.CreatorAccess | None = None

    @property
    def creator(self):
        return self.access.creator if self.access is not None else None

    @property
    def ends_on(self):
        return self.access.ends_on if self.access is not None else None


OWN = Perspective()


def resolve(request) -> Perspective:
    """Ask again whether the session's perspective still holds (one query when one is chosen)."""
    creator_id = request.session.get(SESSION_KEY)
    if creator_id is None:
        return OWN
    answer = access.creator_access(request.user, creator_id)
    if not answer or answer.owner:
        forget(request)
        request.perspective_lost = creator_id
        if request.user.is_authenticated and not answer.owner:
            messages.warning(request, _("达人对本机构的全部数据授权已失效，已切换回本机构视角。"))
        return OWN
    return Perspective(access=answer)


def enter(request, answer: access.CreatorAccess) -> Perspective:
    """Put the user into the perspective of the creator ``answer`` (a non-empty answer) is about."""
    request.session[SESSION_KEY] = answer.creator.pk
    request.perspective = Perspective(access=answer)
    return request.perspective


def choose(request, creator_id: int) -> Perspective:
    """Switch into ``creator_id``'s perspective; 404 unless ``creator_access`` opens something."""
    answer = access.creator_access(request.user, creator_id)
    if not answer or answer.owner:
        raise Http404
    return enter(request, answer)


def forget(request) -> None:
    request.session.pop(SESSION_KEY, None)


class PerspectiveMiddleware:
    """Sets ``request.perspective`` on every request, asking ``creator_access`` again each time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.perspective = OWN
        request.perspective_lost = None
        if request.user.is_authenticated and SESSION_KEY in request.session:
            request.perspective = resolve(request)
        return self.get_response(request)


def _answer_for(request, creator_id: int) -> access.CreatorAccess:
    """``creator_access`` for this request: the middleware's answer when it is about this creator."""
    current = request.perspective.access
    if current is not None and current.creator.pk == creator_id:
        return current
    return access.creator_access(request.user, creator_id)


def creator_data_view(*parts: str, page: str):
    """For every page of a creator's data that shows any of ``parts``: ``view(request, answer, ...)``
    with the ``CreatorAccess`` answer, or 404. ``page``: what the data-access log calls it
    (``grants.models.AccessPage``).

    The creator sees their own data; a user whose answer opens one of ``parts`` sees it too (and
    is put into that creator's perspective); a user whose perspective just lapsed is sent back to
    their own (the middleware has said why); everybody else gets 404, exactly as for a creator
    that does not exist, and a page outside the answer's parts is refused the same way. A page
    served to anyone but the creator is recorded in the data-access log (``access.record_view``)
    once the view has answered it.

    The same view under a URL with a ``preview`` token (以商家视角预览) is the preview: the answer
    of ``access.preview_access`` for the hypothetical grant the token stands for, for the creator
    only (404 for everyone else), with nothing written: no perspective, no log.
    """
    unknown = set(parts) - access.ALL_PARTS
    if not parts or unknown:
        raise ValueError(f"creator_data_view needs parts of {access.PARTS}, got {parts}")
    AccessPage(page)  # a page kind the log knows

    def decorate(view):
        @wraps(view)
        def wrapper(request, creator_id: int, *args, preview: str | None = None, **kwargs):
            if preview is not None:
                answer = access.preview_access(request.user, creator_id, preview)
                if not answer.may_view_any(parts):
                    raise Http404
                return view(request, answer, *args, **kwargs)
            if request.perspective_lost == creator_id:
                return redirect("grants:org_home")  # the middleware has said why
            answer = _answer_for(request, creator_id)
            if not answer.may_view_any(parts):
                raise Http404
            if not answer.owner and request.perspective.access is not answer:
                enter(request, answer)
            response = view(request, answer, *args, **kwargs)
            if response.status_code < 400:
                access.record_view(request.user, answer, page)
            return response

        return wrapper

    return decorate
