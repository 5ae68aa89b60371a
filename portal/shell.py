"""The page shell's header, rendered once per distinct input and reused (issue 17, item 2).

Every page draws the same header: brand, perspective switcher, navigation, bell, language switch,
user name and logout. Rendering it costs more than the data of a small page (about 1.5 ms of CPU
of the gated page's 4), and it changes only when one of a few things changes. ``{% shellcache %}``
(in ``base.html``) renders its part of the template from a context of those things alone
(``INPUTS``, plus a stand-in for the request that knows only the view's name), so the fragment
cannot read anything else, and keys the result by a fingerprint of their values: the user, their
party (creator, or membership and organization), the perspective (the creator, the answer of
``creator_access`` with its parts and the grant or delegation it rests on), the unread count and
the pending badges, the view, the language and the script prefix. The key holds every field of
every model instance reachable from the inputs (their loaded related objects too), so a renamed
organization, a grant renewed, narrowed or revoked, a perspective switched, a new message or
another language make a different key on the very next request, in every worker; nothing has to
be invalidated.

What differs on each request is filled in after the lookup: the CSRF token (masked anew for every
response, as Django does) and the current path of the language form. Each worker keeps the last
``MAX_ENTRIES`` fragments (a few kB each) in memory; ``PORTAL_SHELL_CACHE = False`` renders the
fragment every time from the page's whole context, as without this module (the tests compare the
two, so an input missing from ``INPUTS`` shows as a difference).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import secrets
import threading
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.functional import LazyObject, empty
from django.utils.html import conditional_escape

# The context names the header reads (templates/base.html between {% shellcache %} and
# {% endshellcache %}, and the templates it includes); nothing else reaches it.
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

_fragments: OrderedDict[tuple, str] = OrderedDict()
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


def render(nodelist, context) -> str:
    """The fragment ``nodelist`` for this request: from the cache when its inputs were seen
    before, else rendered from the inputs alone and kept."""
    request = context.get("request")
    if request is None or not getattr(settings, "PORTAL_SHELL_CACHE", True):
        return nodelist.render(context)  # as if there were no cache: from the page's whole context
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else None
    values = {name: context.get(name) for name in INPUTS}
    key = (translation.get_language(), get_script_prefix(), view_name, *(fingerprint(v) for v in values.values()))
    with _lock:
        html = _fragments.get(key)
        if html is not None:
            _fragments.move_to_end(key)
    if html is None:
        values["request"] = ShellRequest(_ResolverMatch(view_name))
        values["csrf_token"] = _CSRF
        html = nodelist.render(context.new(values))
        with _lock:
            _fragments[key] = html
            while len(_fragments) > MAX_ENTRIES:
                _fragments.popitem(last=False)
    return _fill(html, context, request)


def _fill(html: str, context, request) -> str:
    if _CSRF in html:
        html = html.replace(_CSRF, conditional_escape(str(context.get("csrf_token", ""))))
    if _PATH in html:
        html = html.replace(_PATH, conditional_escape(request.get_full_path()))
    return html


def clear() -> None:
    """Forget every fragment (tests)."""
    with _lock:
        _fragments.clear()
