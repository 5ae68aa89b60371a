"""The data-access log's writes (SPEC §11): the upsert of one view, and the purge.

``grants.access.record_view`` is the only caller of ``upsert_view``; it is called where the access
decision is made (``grants.perspective.creator_data_view`` and ``livestreams.views._livestream_for``),
so no gated page can forget it.

One view is one statement, ``INSERT … ON CONFLICT (…) WHERE … DO UPDATE``, on PostgreSQL and on
SQLite alike (both know the upsert with a partial index as its conflict target): the first view of
the day inserts the row, every later one adds one to ``views`` and moves ``last_at``, atomically,
with no read first and no race between two workers. Django's ``bulk_create(update_conflicts=True)``
cannot add to a column, hence the SQL.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

from .models import ACCESS_LOG_RETENTION_DAYS, AccessLogEntry, Delegation

_disabled: ContextVar[bool] = ContextVar("access_log_disabled", default=False)


@contextmanager
def disabled():
    """No view is recorded inside (the bench's unlogged variant of the gated page; nothing else)."""
    token = _disabled.set(True)
    try:
        yield
    finally:
        _disabled.reset(token)


def is_disabled() -> bool:
    return _disabled.get()


# The log is written straight to the primary, not through the router: the replica router pins a
# request (and, by a cookie, the user's next seconds) to the primary after a write, so that they
# read their own change. A view's log row is nobody's change to read back; like a session's save,
# it must not take a viewer of a data page off the replica.
DATABASE = DEFAULT_DB_ALIAS


def connection():
    return connections[DATABASE]


def records_with_answer() -> bool:
    """Whether a livestream page's view is recorded in the statement that decides it (PostgreSQL's
    data-modifying WITH; SQLite has none: there the upsert follows the decision)."""
    return not _disabled.get() and connection().vendor == "postgresql"


_COLUMNS = (
    "viewer_id", "creator_id", "organization_id", "page", "livestream_id", "day", "first_at", "last_at", "views",
    "grant_id", "livestream_request_id", "delegation_id",
)  # fmt: skip


# The casts name each value's type for PostgreSQL's INSERT … SELECT (columns in ``_COLUMNS`` order).
_PG_TYPES = ("bigint", "bigint", "bigint", "varchar", "bigint", "date", "timestamptz", "timestamptz", "integer",
             "bigint", "bigint", "bigint")  # fmt: skip


def _conflict(connection, with_livestream: bool) -> str:
    """The upsert's ``ON CONFLICT … DO UPDATE``: one more view of the day's row, its last time and
    the authority it was served under now."""
    quote = connection.ops.quote_name
    table = quote(AccessLogEntry._meta.db_table)
    if with_livestream:
        target = "viewer_id, creator_id, page, livestream_id, day"
        predicate = "livestream_id IS NOT NULL"
    else:
        target = "viewer_id, creator_id, page, day"
        predicate = "livestream_id IS NULL"
    views, last_at = quote("views"), quote("last_at")
    updates = [f"{views} = {table}.{views} + 1", f"{last_at} = excluded.{last_at}"]
    updates += [
        f"{quote(c)} = excluded.{quote(c)}"
        for c in ("organization_id", "grant_id", "livestream_request_id", "delegation_id")
    ]
    return f"ON CONFLICT ({target}) WHERE {predicate} DO UPDATE SET {', '.join(updates)}"


# Set in the statement itself: its transaction commits without waiting for the WAL's flush.
_ASYNC_COMMIT = "async_commit AS (SELECT set_config('synchronous_commit', 'off', true))"


def _sql(connection, with_livestream: bool, asynchronous: bool) -> str:
    """The upsert. On PostgreSQL its transaction commits asynchronously (``synchronous_commit`` off,
    for this statement only, set in the statement itself): the view does not wait for the WAL's
    flush to disk, which is what an otherwise read-only page would pay most for (measured in
    docs/performance.md). The row is written, visible and crash-safe as a transaction; a crash of
    the database server itself can lose the last ~0.6 s of log rows (3 × ``wal_writer_delay``),
    never corrupt them. Only in a transaction of its own (``asynchronous``): inside a caller's
    transaction the setting would reach the caller's commit too. Elsewhere (SQLite) a plain upsert."""
    quote = connection.ops.quote_name
    table = quote(AccessLogEntry._meta.db_table)
    columns = ", ".join(quote(c) for c in _COLUMNS)
    conflict = _conflict(connection, with_livestream)
    if asynchronous:
        values = ", ".join(f"%s::{kind}" for kind in _PG_TYPES)
        insert = f"INSERT INTO {table} ({columns}) SELECT {values} FROM async_commit {conflict}"  # noqa: S608
        return f"WITH {_ASYNC_COMMIT} {insert}"
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) {conflict}"  # noqa: S608 - our own identifiers


def livestream_answer_recorded(*, code: int, modules_bit: int, asynchronous: bool):
    """A wrapper (``portal.compiled.CompiledQuery(wrap=…)``, PostgreSQL) around the member's answer
    for a livestream (``grants.speedups``: the answer's columns and ``organization_id``, one row or
    none) that records the view in the same statement: a data-modifying ``WITH`` upserts the day's
    row when the answer rests on an authority, and the statement returns the answer with what it
    recorded (``grant_id``, ``livestream_request_id``, ``delegation_id``: see ``recorded()``). The
    decision and its record are one round trip: the page cannot be decided without being recorded,
    and a failed write fails the decision (the page is refused).

    The authority is the one ``grants.access.livestream_access`` derives from the same columns: a
    grant code whose scope has the modules (``code % CODE & modules_bit``) is the grant (the main
    account) or the delegation (a sub-account; its grant is read by id); otherwise the approved
    request, if any. ``livestream_access`` compares what was recorded with its own answer and
    refuses the page if they differ, so the two cannot drift apart unnoticed. Parameters after the
    answer's: viewer, creator, page, livestream, day, time (``RECORDED_PARAMS``)."""

    def wrap(answer_sql: str, connection) -> str:
        insert = _recorded_insert(connection, code, modules_bit, asynchronous, creator="%s::bigint")
        ctes = [f"answer AS ({answer_sql})", *([_ASYNC_COMMIT] if asynchronous else []), f"recorded AS ({insert})"]
        return f"WITH {', '.join(ctes)} SELECT {_ANSWER_RECORDED} FROM answer a LEFT JOIN recorded r ON true"  # noqa: S608

    return wrap


ROW = "ls"  # the livestream's row in ``livestream_row_answer_recorded``: the answer may read it


def livestream_row_answer_recorded(*, answer, code: int, modules_bit: int, asynchronous: bool):
    """The same statement around the livestream's row (``portal.compiled.CompiledQuery(wrap=…)`` of
    the livestream's query): the row, the member's answer (``answer``: a compiled query with the
    answer's columns, ``organization_id`` and ``creator_id``, the livestream's creator read in the
    statement) and what was recorded, in one round trip. Each row is the livestream's columns, then
    the answer's and the record's (NULL for a non-member); no row when there is no such livestream.
    Parameters after the row query's: the answer's (``answer.bound``), then viewer, page,
    livestream, day, time (``row_recorded_params``)."""

    def wrap(row_sql: str, connection) -> str:
        insert = _recorded_insert(connection, code, modules_bit, asynchronous, creator="a.creator_id")
        ctes = [
            f"{ROW} AS ({row_sql})",
            f"answer AS ({answer.sql(connection.alias)})",
            *([_ASYNC_COMMIT] if asynchronous else []),
            f"recorded AS ({insert})",
        ]
        return (
            f"WITH {', '.join(ctes)} SELECT {ROW}.*, {_ANSWER_RECORDED} "  # noqa: S608 - SQL the ORM compiled and ours
            f"FROM {ROW} LEFT JOIN answer a ON true LEFT JOIN recorded r ON true"
        )

    return wrap


# The statement's answer and record columns (see ``livestream_answer_recorded``).
# (A row written has a grant or a request: ``recorded()`` tells whether one was.)
_ANSWER_RECORDED = (
    "a.owner, a.request_id, a.grant_code, a.cooperating, a.main, r.grant_id, r.livestream_request_id, r.delegation_id"
)


def recorded(grant_id, request_id, delegation_id) -> tuple:
    """What the statement recorded, from its last three columns: ``(grant id, request id,
    delegation id)``, or ``()`` for no row written."""
    return (grant_id, request_id, delegation_id) if grant_id is not None or request_id is not None else ()


def _recorded_insert(connection, code: int, modules_bit: int, asynchronous: bool, *, creator: str) -> str:
    """The upsert of a data page's view from the answer ``a`` (its authority: see
    ``livestream_answer_recorded``); ``creator``: the creator's id, a parameter or a column of ``a``.
    Kept short: psycopg keeps the parsed form of a statement of up to 4 kB only."""
    quote = connection.ops.quote_name
    table = quote(AccessLogEntry._meta.db_table)
    delegations = quote(Delegation._meta.db_table)
    columns = ", ".join(quote(c) for c in _COLUMNS)
    # ``o``: the grant code opens the modules (%% for %); ``k``: the grant's (or delegation's) id.
    opened = f"a.grant_code IS NOT NULL AND (a.grant_code %% {code}) & {modules_bit} <> 0 AS o"
    answer = f"(SELECT a.*, {opened}, a.grant_code / {code} AS k FROM answer a) a"  # noqa: S608 - ours
    grant_of_delegation = f"(SELECT d.grant_id FROM {delegations} d WHERE d.id = a.k)"  # noqa: S608 - ours
    grant_id = f"CASE WHEN a.o THEN CASE WHEN a.main THEN a.k ELSE {grant_of_delegation} END END"
    sources = f"{answer}, async_commit" if asynchronous else answer
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - our own identifiers
        f"SELECT %s::bigint, {creator}, a.organization_id, %s::varchar, %s::bigint, %s::date, "
        f"%s::timestamptz, %s::timestamptz, 1, {grant_id}, CASE WHEN NOT a.o THEN a.request_id END, "
        f"CASE WHEN a.o AND NOT a.main THEN a.k END "
        f"FROM {sources} WHERE a.o OR a.request_id IS NOT NULL "
        f"{_conflict(connection, with_livestream=True)} "
        f"RETURNING grant_id, livestream_request_id, delegation_id"
    )


def row_recorded_params(connection, *, viewer_id: int, page: str, livestream_id: int, at, day):
    """The parameters of ``livestream_row_answer_recorded``'s record, in its order (its creator is
    read in the statement)."""
    ops = connection.ops
    moment = ops.adapt_datetimefield_value(at)
    return [viewer_id, page, livestream_id, ops.adapt_datefield_value(day), moment, moment]


def recorded_params(connection, *, viewer_id: int, creator_id: int, page: str, livestream_id: int, at, day):
    """The wrapper's parameters (``livestream_answer_recorded``), in its order."""
    ops = connection.ops
    moment = ops.adapt_datetimefield_value(at)
    return [viewer_id, creator_id, page, livestream_id, ops.adapt_datefield_value(day), moment, moment]


_SQL_CACHE: dict[tuple[str, bool, bool], str] = {}


def upsert_view(
    *, viewer_id: int, creator_id: int, organization_id: int, page: str, livestream_id: int | None,
    at: datetime.datetime, day: datetime.date, grant_id: int | None, livestream_request_id: int | None,
    delegation_id: int | None = None,
) -> None:  # fmt: skip
    """Count one view of ``page``: insert the day's row, or add one to it. One statement."""
    connection = connections[DATABASE]  # the primary, not through the router (see DATABASE)
    asynchronous = connection.vendor == "postgresql" and not connection.in_atomic_block
    key = (connection.vendor, livestream_id is not None, asynchronous)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        sql = _SQL_CACHE[key] = _sql(connection, livestream_id is not None, asynchronous)
    ops = connection.ops
    moment, date = ops.adapt_datetimefield_value(at), ops.adapt_datefield_value(day)
    params = [
        viewer_id, creator_id, organization_id, page, livestream_id, date, moment, moment, 1, grant_id,
        livestream_request_id, delegation_id,
    ]  # fmt: skip
    # No savepoint of its own: a failure is raised on (``AccessNotRecorded``) and ends the request,
    # so it never leaves a caller's transaction half-used. One statement, one round trip.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def purge(*, today: datetime.date, batch: int = 10_000) -> int:
    """Delete the rows older than ``ACCESS_LOG_RETENTION_DAYS`` (a day in Asia/Shanghai), in batches
    of ``batch`` rows (each its own short transaction, read from the ``access_log_day`` index).
    Returns how many rows went."""
    cutoff = today - datetime.timedelta(days=ACCESS_LOG_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(AccessLogEntry.objects.older_than(cutoff).order_by("day").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        count, _by_model = AccessLogEntry.objects.filter(pk__in=ids).delete()
        deleted += count
