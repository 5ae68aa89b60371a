"""The page's layout, rendered once per distinct input and reused (issue 17, item 2).

Every page draws the same layout around its content: the head (title, stylesheets, htmx), the
header (brand, perspective switcher, navigation, bell, language switch, user name and logout), the
footer and the dialog. Rendering it costs more than the data of a small page, and it changes only
when one of a few things changes. ``{% shellcache %}`` (around the whole of ``base.html``) renders
its part of the template from a context of those things alone (``INPUTS``, plus a stand-in for the
request that knows only the view's name), so the layout cannot read anything else, and keys the
result by a fingerprint of their values: the user, their party (creator, or membership and
organization), the perspective (the creator, the answer of ``creator_access`` with its parts and the
grant or delegation it rests on), the unread count and the pending badges, the page's template, the
view, the language and the script prefix. The key holds every field of every model instance
reachable from the inputs (their loaded related objects too), so a renamed organization, a grant
renewed, narrowed or revoked, a perspective switched, a new message or another language make a
different key on the very next request, in every worker; nothing has to be invalidated.

What belongs to the page rather than its layout sits in ``{% slot %}…{% endslot %}`` inside the
region: the title, the banner, the messages, the content, the page's own head and scripts. A slot
is rendered for every request from the page's whole context and put in its place; in the cached
layout it is only a stand-in. So is what differs on each request: the CSRF token (masked anew for
every response, as Django does) and the current path of the language form. A slot sees the page's
context, never a variable bound inside the region (``{% with %}``, ``{% for %}``): put slots where
the region binds none. Each worker keeps the last ``MAX_ENTRIES`` layouts (a few kB each) in
memory; ``PORTAL_SHELL_CACHE = False`` renders the region every time from the page's whole context,
as without this module (the tests compare the two, so an input missing from ``INPUTS`` shows as a
difference).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import re
import secrets
import threading
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse
from django.shortcuts import render as render_whole
from django.template import loader
from django.template.context import make_context
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.functional import LazyObject, empty
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

# The context names the layout reads (templates/base.html between {% shellcache %} and
# {% endshellcache %} outside its slots, and the templates it includes); nothing else reaches it.
INPUTS = (
    "user",
    "party_creator",
    "party_membership",
    "party_access",
    "perspective",
    "unread_count",
    "pending_request_count",
    "pending_grant_request_count",
)
MAX_ENTRIES = 512

# Stand-ins rendered into the fragment and replaced by each request's values: random per process,
# letters and digits only (HTML escaping leaves them alone), so no name or title can contain them.
_CSRF = f"shellcsrf{secrets.token_hex(16)}"
_PATH = f"shellpath{secrets.token_hex(16)}"
_SLOT = f"shellslot{secrets.token_hex(16)}n"  # then the slot's number and "z"
_STAND_IN = re.compile(f"({_CSRF}|{_PATH}|{_SLOT}[0-9]+z)")
# Set in the layout's own context: a slot renders its stand-in there, its content anywhere else.
SKELETON = "_shell_layout"
# Set while a whole page is rendered to be kept (``render_page``): the layout leaves the CSRF
# token's and the path's stand-ins in place, to be filled in for each request.
WHOLE = "_shell_whole_page"
PAGE_ENTRIES = 256

# A layout: its text split at the stand-ins, each stand-in replaced by what fills it: _TOKEN,
# _FULL_PATH, or the slot's number.
_TOKEN, _FULL_PATH = ("csrf token",), ("full path",)
_fragments: OrderedDict[tuple, tuple] = OrderedDict()
_pages: OrderedDict[tuple, tuple] = OrderedDict()  # whole pages (render_page), the same way
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class _ResolverMatch:
    view_name: str | None


@dataclasses.dataclass(frozen=True)
class ShellRequest:
    """What the header may know of the request: the view's name (``{% nav_current %}``) and a
    stand-in for the full path (the language form's ``next``, filled in per request)."""

    resolver_match: _ResolverMatch

    def get_full_path(self) -> str:
        return _PATH


_ABSENT = "\x00absent"
_SCALARS = (
    str, int, float, bool, decimal.Decimal, datetime.date, datetime.datetime, datetime.time, datetime.timedelta,
)  # fmt: skip


def fingerprint(value, seen: frozenset[int] = frozenset()):
    """A hashable value that changes whenever anything the templates could read of ``value``
    changes: scalars as they are, model instances as their label, every concrete field and their
    loaded related objects, dataclasses by their fields, containers item by item. A value of any
    other kind is refused (``TypeError``): an input nobody thought about must not be cached blind."""
    kind = type(value)
    if kind in _SCALARS or value is None:
        return value
    if issubclass(kind, LazyObject):  # type(), not isinstance(): a lazy object proxies __class__
        if value._wrapped is empty:
            value._setup()
        return fingerprint(value._wrapped, seen)
    if id(value) in seen:  # a cycle (a creator's user whose creator is that creator)
        return ("again", kind.__qualname__, getattr(value, "pk", None))
    seen = seen | {id(value)}
    if issubclass(kind, Model):
        # The instance's own values (a deferred field stays unread, no query: it is absent here),
        # then its loaded related objects.
        loaded = value.__dict__
        fields = tuple([_field_value(loaded.get(name, _ABSENT)) for name in _attnames(kind)])
        cache = value._state.fields_cache
        related = tuple([(name, fingerprint(cache[name], seen)) for name in sorted(cache)]) if cache else ()
        return (kind, fields, related)
    if isinstance(value, _SCALARS):  # a subclass (a SafeString, a datetime)
        return value
    if isinstance(value, AnonymousUser):
        return "anonymous"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (kind, tuple([fingerprint(getattr(value, name), seen) for name in _dataclass_fields(kind)]))
    if isinstance(value, (list, tuple)):
        return tuple([fingerprint(item, seen) for item in value])
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(fingerprint(item, seen)) for item in value)))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), repr(fingerprint(v, seen))) for k, v in value.items())))
    raise TypeError(f"the page shell cannot fingerprint {kind.__qualname__}: add it to portal.shell")


def _field_value(value):
    """A model field's value as kept in the key: scalars as they are, a file by its name."""
    if type(value) in _SCALARS or value is None:
        return value
    if isinstance(value, FieldFile):
        return ("file", value.name)
    if isinstance(value, _SCALARS):
        return value
    return repr(value)  # a JSON field's dict, a list: by its text


@functools.cache
def _attnames(model) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@functools.cache
def _dataclass_fields(kind) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def slot_stand_in(index: int) -> str:
    return f"{_SLOT}{index}z"


def _layout_key(context, request) -> tuple[tuple, dict, str | None]:
    """The layout's key, its inputs' values and the view's name."""
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else None
    template = context.template.name if context.template is not None else None
    values = {name: context.get(name) for name in INPUTS}
    inputs = tuple([fingerprint(value) for value in values.values()])
    key = (translation.get_language(), get_script_prefix(), template, view_name, *inputs)
    return key, values, view_name


def _remember(store: OrderedDict, key: tuple, parts: tuple, limit: int) -> None:
    with _lock:
        store[key] = parts
        while len(store) > limit:
            store.popitem(last=False)


def _recall(store: OrderedDict, key: tuple) -> tuple | None:
    with _lock:
        parts = store.get(key)
        if parts is not None:
            store.move_to_end(key)
    return parts


def render(nodelist, context, slots=()) -> str:
    """The region ``nodelist`` for this request: its layout from the cache when its inputs were
    seen before, else rendered from the inputs alone and kept; then the CSRF token, the path and
    ``slots`` (nodelists, numbered as their stand-ins) rendered from the page's whole context."""
    request = context.get("request")
    if request is None or not getattr(settings, "PORTAL_SHELL_CACHE", True):
        return nodelist.render(context)  # as if there were no cache: from the page's whole context
    key, values, view_name = _layout_key(context, request)
    parts = _recall(_fragments, key)
    if parts is None:
        values["request"] = ShellRequest(_ResolverMatch(view_name))
        values["csrf_token"] = _CSRF
        values[SKELETON] = True
        parts = _split(nodelist.render(context.new(values)))
        _remember(_fragments, key, parts, MAX_ENTRIES)
    return _fill(parts, context, request, slots, keep_stand_ins=bool(context.get(WHOLE)))


def render_page(request, template_name: str, key, context) -> HttpResponse:
    """``django.shortcuts.render()``, with the whole page kept: keyed by the layout's key, the page's
    own ``key``, the request's full path and whether it came from htmx, and served again with only
    its CSRF token and path filled in.

    The view vouches that ``key`` determines everything in the page's context. ``context()`` returns
    ``(context, keep)`` and is called only when the page is rendered; ``keep`` False shows the page
    without keeping it (its data may not be what the key says). A page with messages to show is
    rendered (they are shown once). The view must have decided access before: what is kept is a
    rendering, not a permission."""
    if not getattr(settings, "PORTAL_SHELL_CACHE", True):
        return render_whole(request, template_name, context()[0])
    wrapper = loader.get_template(template_name)
    template = wrapper.template
    page = make_context({}, request, autoescape=wrapper.backend.engine.autoescape)
    with page.render_context.push_state(template), page.bind_template(template):
        page.template_name = template.name
        if page.get("messages"):
            with page.push(context()[0]):
                return HttpResponse(template._render(page))
        layout, _inputs, _view_name = _layout_key(page, request)
        full_key = (layout, request.get_full_path(), bool(request.htmx), key)
        parts = _recall(_pages, full_key)
        if parts is None:
            values, keep = context()
            with page.push(values), page.push({"csrf_token": _CSRF, WHOLE: True}):
                parts = _split(template._render(page))
            if keep:
                _remember(_pages, full_key, parts, PAGE_ENTRIES)
        return HttpResponse(_fill(parts, page, request, ()))


def _split(html: str) -> tuple:
    pieces = _STAND_IN.split(html)
    parts = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            if piece:
                parts.append(piece)
        elif piece == _CSRF:
            parts.append(_TOKEN)
        elif piece == _PATH:
            parts.append(_FULL_PATH)
        else:
            parts.append(int(piece[len(_SLOT) : -1]))
    return tuple(parts)


def _fill(parts: tuple, context, request, slots, keep_stand_ins: bool = False) -> str:
    out = []
    token = None
    for part in parts:
        kind = type(part)
        if kind is str:
            out.append(part)
        elif kind is int:
            out.append(slots[part].render(context))
        elif keep_stand_ins:
            out.append(_CSRF if part is _TOKEN else _PATH)
        elif part is _TOKEN:
            if token is None:
                token = conditional_escape(str(context.get("csrf_token", "")))
            out.append(token)
        else:
            out.append(conditional_escape(request.get_full_path()))
    return SafeString("".join(out))


def clear() -> None:
    """Forget every layout and page (tests)."""
    with _lock:
        _fragments.clear()
        _pages.clear()
