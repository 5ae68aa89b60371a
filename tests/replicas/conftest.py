"""The replica pair for the tests of issue 18: a PostgreSQL primary and its streaming replica on
loopback, started by ``make replica`` (``scripts/replica-pair``), with a replay delay.

The suite's own database stays where ``DATABASE_URL`` says; a test that asks for ``pair`` runs the
portal against the pair instead: the ``default`` alias is the pair's primary and ``replica`` its
replica (a database of this test session on them, migrated once), with the replica router and its
middleware installed. Every write commits (there is no test transaction: it could not reach the
replica), so each test makes its own parties and data.

Without the pair the tests skip with the reason; ``REQUIRE_REPLICA=1`` (CI) makes that a failure.
All of them run in one xdist worker (``xdist_group``): one of them stops the replica.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import OperationalError, connections
from django.db.utils import load_backend
from django.test import override_settings

from portal import replicas

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "replica-pair"
PRIMARY_PORT = int(os.environ.get("REPLICA_PAIR_PRIMARY_PORT", "5441"))
REPLICA_PORT = int(os.environ.get("REPLICA_PAIR_REPLICA_PORT", "5442"))
START_HINT = "make replica starts it; REQUIRE_REPLICA=1 turns this skip into a failure"


def _dsn(port: int, name: str = "postgres") -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{name}"


def pair_missing_reason() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "the replica tests run in the PostgreSQL suite (DATABASE_URL=postgres://…)"
    try:
        with psycopg.connect(_dsn(PRIMARY_PORT), connect_timeout=2) as primary:
            primary.execute("SELECT 1")
        with psycopg.connect(_dsn(REPLICA_PORT), connect_timeout=2) as replica:
            in_recovery, delay = replica.execute(
                "SELECT pg_is_in_recovery(), current_setting('recovery_min_apply_delay')"
            ).fetchone()
    except psycopg.OperationalError as exc:
        return f"no replica pair on 127.0.0.1:{PRIMARY_PORT}/{REPLICA_PORT} ({START_HINT}): {exc}".strip()
    if not in_recovery:
        return f"127.0.0.1:{REPLICA_PORT} is not a standby ({START_HINT})"
    if delay in ("0", "0ms", "0s"):
        return f"the replica replays without delay: the lag tests need recovery_min_apply_delay ({START_HINT})"
    return None


def _database_settings(port: int, name: str) -> dict:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # As in production: kept between requests, health-checked at the start of each.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 2},
    }


class Pair:
    """The pair's databases for this session, and the portal pointed at them (``active()``)."""

    def __init__(self, name: str):
        self.name = name
        configured = connections.configure_settings(
            {"default": _database_settings(PRIMARY_PORT, name), "replica": _database_settings(REPLICA_PORT, name)}
        )
        self.settings = configured
        self.wrappers = {
            alias: load_backend(config["ENGINE"]).DatabaseWrapper(config, alias) for alias, config in configured.items()
        }

    def create(self) -> None:
        with psycopg.connect(_dsn(PRIMARY_PORT), autocommit=True) as primary:
            primary.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            primary.execute(f'CREATE DATABASE "{self.name}"')
        with self.active(router=False):
            call_command("migrate", interactive=False, verbosity=0)
        # The replica has the database once it replays its creation (the apply delay later).
        deadline = time.monotonic() + self.delay_seconds() + 20
        with psycopg.connect(_dsn(REPLICA_PORT), autocommit=True) as replica:
            while not replica.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone():
                if time.monotonic() > deadline:
                    raise AssertionError(f"the replica has no database {self.name}")
                time.sleep(0.1)

    def drop(self) -> None:
        for wrapper in self.wrappers.values():
            wrapper.close()
        with psycopg.connect(_dsn(PRIMARY_PORT), autocommit=True) as primary:
            primary.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @contextmanager
    def active(self, *, router: bool = True, **replica_settings):
        """The portal on the pair: ``default`` and ``replica`` are its databases; with ``router``,
        the replica router and middleware as ``DATABASE_REPLICA_URL`` installs them."""
        for wrapper in self.wrappers.values():  # e.g. the replica's, after a test restarted it
            if wrapper.connection is not None and not wrapper.is_usable():
                wrapper.close()
        saved_settings = {alias: connections.settings.get(alias) for alias in self.settings}
        saved_wrappers = {alias: getattr(connections._connections, alias, None) for alias in self.settings}
        for alias, config in self.settings.items():
            connections.settings[alias] = config
            connections[alias] = self.wrappers[alias]
        ContentType.objects.clear_cache()
        replicas.health.forget()
        middleware = list(settings.MIDDLEWARE)
        if router:
            middleware.insert(
                middleware.index("portal.middleware.SessionMiddleware"),
                "portal.replicas.ReplicaMiddleware",
            )
        overrides = {
            "DATABASE_ROUTERS": ["portal.replicas.ReplicaRouter"] if router else [],
            "MIDDLEWARE": middleware,
            **replica_settings,
        }
        try:
            with override_settings(**overrides):
                yield self
        finally:
            for alias in self.settings:
                if saved_settings[alias] is None:
                    del connections.settings[alias]
                else:
                    connections.settings[alias] = saved_settings[alias]
                if saved_wrappers[alias] is None:
                    delattr(connections._connections, alias)
                else:
                    connections[alias] = saved_wrappers[alias]
            ContentType.objects.clear_cache()
            replicas.health.forget()

    def caught_up(self, timeout: float | None = None) -> float:
        """Wait until the replica has replayed everything the primary wrote so far; the seconds it took."""
        timeout = timeout if timeout is not None else self.delay_seconds() + 20
        started = time.monotonic()
        with self.wrappers["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            (lsn,) = cursor.fetchone()
        replica = self.wrappers["replica"]
        while True:
            try:
                with replica.cursor() as cursor:
                    cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
                    (done,) = cursor.fetchone()
            except OperationalError:  # a connection from before the replica was restarted
                replica.close()
                done = False
            if done:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"the replica did not replay {lsn} in {timeout:.0f} s")
            time.sleep(0.1)

    def delay_seconds(self) -> float:
        with psycopg.connect(_dsn(REPLICA_PORT), connect_timeout=2) as replica:
            (milliseconds,) = replica.execute(
                "SELECT EXTRACT(EPOCH FROM current_setting('recovery_min_apply_delay')::interval) * 1000"
            ).fetchone()
        return float(milliseconds) / 1000

    def script(self, command: str) -> None:
        subprocess.run([str(SCRIPT), command], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pair_database(django_db_blocker, worker_id):
    reason = pair_missing_reason()
    if reason:
        if os.environ.get("REQUIRE_REPLICA") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    pair = Pair(f"test_replica_pair_{worker_id}")
    with django_db_blocker.unblock():
        pair.create()
    yield pair
    with django_db_blocker.unblock():
        pair.drop()


@pytest.fixture
def pair(pair_database, django_db_blocker):
    """The portal on the pair, router installed, for one test (see the module's docstring)."""
    # The lag is measured once per test (``active()`` forgets it) unless a test forgets it again. A
    # bound of an hour: after a quiet spell (other tests of this worker) the first measurement
    # over-estimates the lag by the time since the replica's last replayed commit; the bound itself
    # is tested on its own.
    settings = {"DATABASE_REPLICA_MAX_LAG": 3600, "DATABASE_REPLICA_CHECK_SECONDS": 600}
    with django_db_blocker.unblock(), pair_database.active(**settings):
        yield pair_database


class QueryLog:
    """Every query each alias ran, by request (``mark()`` starts a new one)."""

    def __init__(self):
        self.queries: list[tuple[str, str, str]] = []
        self.label = ""

    def mark(self, label: str) -> None:
        self.label = label

    def wrapper(self, alias: str):
        def record(execute, sql, params, many, context):
            self.queries.append((self.label, alias, sql))
            return execute(sql, params, many, context)

        return record

    def of(self, label: str, alias: str) -> list[str]:
        return [sql for mark, where, sql in self.queries if mark == label and where == alias]

    def counts(self) -> Counter:
        return Counter((mark, alias) for mark, alias, _sql in self.queries)


@pytest.fixture
def query_log(pair):
    log = QueryLog()
    with (
        connections["default"].execute_wrapper(log.wrapper("default")),
        connections["replica"].execute_wrapper(log.wrapper("replica")),
    ):
        yield log
