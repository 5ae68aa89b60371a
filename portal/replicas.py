"""Read replicas: which database answers a query. Only in use when ``DATABASE_REPLICA_URL`` is set.

Safe by construction: everything goes to the primary unless all of these hold —

1. the request is a ``GET``/``HEAD`` of a view marked ``@reads_replica`` (the data pages: a
   creator's overview, livestream list and CSV, an organization's livestream list, a livestream's
   detail and modules);
2. the query reads a model of the livestream data (``DATA_APPS``): never a grant, a request, a
   membership, a user, a session or a task, so every access decision reads the primary;
3. nothing has been written in this request yet, the primary is not inside a transaction, and
   the user has not changed anything in the last few seconds (a signed cookie set by every
   ``POST`` and every write, ``DATABASE_REPLICA_STICKY_SECONDS``), so people see their own change;
4. the replica answers and lags by at most ``DATABASE_REPLICA_MAX_LAG`` seconds, checked at most
   once every ``DATABASE_REPLICA_CHECK_SECONDS`` per process (``pg_last_xact_replay_timestamp()``);
   a connection error marks it down until the next check, and a data page that failed on the
   replica mid-request is served again from the primary.

The gate of a livestream's pages loads the livestream itself on the primary (``on_primary()``): a
decision rests on its creator. Writes, migrations and everything outside a request go to the
primary. docs/scaling.md describes the design and what the tests prove.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections, router

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
DATA_APPS = frozenset({"livestreams"})
"""Apps whose tables a data page may read from the replica: the livestream data, nothing that
decides access (grants, portal), nothing per user (sessions, notifications, tasks)."""
STICKY_COOKIE = "portal_primary"
_STICKY_SALT = "portal.replicas.sticky"
SAFE_METHODS = frozenset({"GET", "HEAD"})

logger = logging.getLogger(__name__)


def reads_replica(view):
    """Marks a data page: its livestream data may be read from the replica (see the module's rules).
    Like ``csrf_exempt``, an attribute the middleware reads; without a replica it does nothing."""
    view.reads_replica = True
    return view


@dataclass
class RequestState:
    """Where this request's reads go."""

    data_page: bool = False  # a GET of a @reads_replica view
    pinned: bool = False  # the primary for the rest of the request
    wrote: bool = False  # something other than a session was written: the user goes sticky
    used_replica: bool = False
    retried: bool = False
    view: tuple | None = None


_state: ContextVar[RequestState | None] = ContextVar("portal_replica_request", default=None)


@contextlib.contextmanager
def on_primary() -> Iterator[None]:
    """Reads inside go to the primary (an access decision's inputs); the request's state after."""
    state = _state.get()
    if state is None or state.pinned:
        yield
        return
    state.pinned = True
    try:
        yield
    finally:
        state.pinned = state.wrote  # a write inside keeps the rest of the request on the primary


def serves(model) -> bool:
    """Whether a read of ``model`` made now would go to the replica."""
    return router.db_for_read(model) == REPLICA


def agrees(instance) -> bool:
    """Whether the replica has ``instance``'s row as it is (read from the primary); True without a
    query when reads of its model do not go to the replica now. A module fragment made from replica
    data is cached under its livestream's primary row only when they agree."""
    model = type(instance)
    if not serves(model):
        return True
    names = [field.attname for field in model._meta.concrete_fields]
    row = model._base_manager.using(REPLICA).filter(pk=instance.pk).values_list(*names).first()
    return row == tuple(getattr(instance, name) for name in names)


# --- the replica's health, per process ---------------------------------------------------------

LAG_SQL = (
    "SELECT pg_is_in_recovery(), "
    "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() "
    "AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver), "
    "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
)
"""In recovery? Replayed all it received, and still receiving? Seconds since the commit of the last
transaction it replayed. Callable by any role (``pg_stat_wal_receiver`` shows its row to anyone)."""


def lag_from(in_recovery: bool, caught_up: bool, age) -> float:
    """The replica's lag in seconds from ``LAG_SQL``'s row: 0 when it is no standby (a promoted
    replica, or the primary itself in development) or has replayed everything it received while
    still streaming; else the age of the last transaction it replayed (an over-estimate after a
    quiet spell, which only sends reads to the primary a little early); infinite when unknown."""
    if not in_recovery or caught_up:
        return 0.0
    return math.inf if age is None else max(float(age), 0.0)


class Health:
    """The replica's lag as last measured in this process, measured again when older than the check
    interval (one query on the replica every few seconds at most, whatever the traffic)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.checked_at = -math.inf
        self.lag = math.inf

    def serving(self) -> bool:
        if self.clock() - self.checked_at >= settings.DATABASE_REPLICA_CHECK_SECONDS:
            self.check()
        return self.lag <= settings.DATABASE_REPLICA_MAX_LAG

    def check(self) -> float:
        self.checked_at = self.clock()
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(LAG_SQL)
                self.lag = lag_from(*cursor.fetchone())
        except DatabaseError as exc:
            self.down(exc)
        return self.lag

    def down(self, exc=None) -> None:
        """The replica failed: primary only until the next check."""
        if self.lag != math.inf:
            logger.warning("read replica unavailable, reading the primary: %s", exc)
        self.checked_at = self.clock()
        self.lag = math.inf
        with contextlib.suppress(DatabaseError):
            connections[REPLICA].close()

    def forget(self) -> None:
        """Measure again on the next read (tests)."""
        self.checked_at = -math.inf


health = Health()


def _connected() -> bool:
    """The replica's connection works, made or re-made now (what Django's cursor does first), so a
    stopped replica is noticed before a query is routed to it."""
    connection = connections[REPLICA]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as exc:
        health.down(exc)
        return False
    return True


class ReplicaRouter:
    """Reads of the livestream data on a data page go to the replica when it is healthy; everything
    else to the primary (the module's rules)."""

    def db_for_read(self, model, **hints):
        state = _state.get()
        if (
            state is None
            or not state.data_page
            or state.pinned
            or model._meta.app_label not in DATA_APPS
            or connections[PRIMARY].in_atomic_block
        ):
            return PRIMARY
        if not health.serving():
            return PRIMARY
        if not state.used_replica:
            if not _connected():
                return PRIMARY
            state.used_replica = True
        return REPLICA

    def db_for_write(self, model, **hints):
        state = _state.get()
        # A session is never read from the replica: saving one pins nothing.
        if state is not None and model._meta.app_label != "sessions":
            state.pinned = state.wrote = True
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica is a copy of the primary: the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


def sticky_seconds() -> float:
    return settings.DATABASE_REPLICA_STICKY_SECONDS


class ReplicaMiddleware:
    """Keeps each request's routing state; makes a user who changed something sticky to the primary
    for a few seconds; serves a data page again from the primary when the replica failed under it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = RequestState(pinned=self._sticky(request))
        token = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(token)
        if request.method not in SAFE_METHODS or state.wrote:
            response.set_signed_cookie(
                STICKY_COOKIE,
                "1",
                salt=_STICKY_SALT,
                max_age=math.ceil(sticky_seconds()),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        if response.streaming:
            response.streaming_content = _streamed_with(state, response.streaming_content)
        return response

    @staticmethod
    def _sticky(request) -> bool:
        if STICKY_COOKIE not in request.COOKIES:
            return False
        value = request.get_signed_cookie(STICKY_COOKIE, default=None, salt=_STICKY_SALT, max_age=sticky_seconds())
        return value is not None

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _state.get()
        if state is not None and request.method in SAFE_METHODS and getattr(view_func, "reads_replica", False):
            state.data_page = True
            state.view = (view_func, view_args, view_kwargs)

    def process_exception(self, request, exception):
        state = _state.get()
        if (
            state is None
            or not state.used_replica
            or state.retried
            or state.view is None
            or not isinstance(exception, OperationalError | InterfaceError)
        ):
            return None
        health.down(exception)
        state.retried = state.pinned = True
        view, args, kwargs = state.view
        return view(request, *args, **kwargs)


def _streamed_with(state: RequestState, chunks):
    """A streamed response (the CSV export) runs its queries after the view returned: with the
    request's routing state, one chunk at a time."""
    iterator = iter(chunks)
    while True:
        token = _state.set(state)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _state.reset(token)
        yield chunk
