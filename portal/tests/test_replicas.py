"""The replica router's rules, without a replica (``tests/replicas/`` runs them on a real one).

No test here touches a database: the router's decisions are functions of the request's state, the
model and the replica's measured lag, which the tests set.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.db import OperationalError
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from grants.models import Grant, LivestreamAccessRequest
from livestreams.models import CreatorDay, Livestream, MinutePoint, ProductSale
from portal import replicas
from portal.models import Creator, Membership, User

ROOT = Path(__file__).resolve().parents[2]
DATA = (Livestream, MinutePoint, ProductSale, CreatorDay)
DECIDING = (Grant, LivestreamAccessRequest, Membership, Creator, User)


@pytest.fixture
def healthy(monkeypatch):
    """A replica measured a moment ago, lagging 0.1 s, whose connection works."""
    monkeypatch.setattr(replicas.health, "lag", 0.1)
    monkeypatch.setattr(replicas.health, "checked_at", time.monotonic())
    monkeypatch.setattr(replicas, "_connected", lambda: True)
    return replicas.health


@pytest.fixture
def data_page():
    """The routing state of a GET of a ``@reads_replica`` view."""
    state = replicas.RequestState(data_page=True)
    token = replicas._state.set(state)
    yield state
    replicas._state.reset(token)


router = replicas.ReplicaRouter()


def test_outside_a_request_everything_reads_the_primary(healthy):
    for model in DATA + DECIDING:
        assert router.db_for_read(model) == "default"


def test_a_data_page_reads_only_the_livestream_data_from_the_replica(healthy, data_page):
    for model in DATA:
        assert router.db_for_read(model) == "replica", model
    for model in DECIDING:
        assert router.db_for_read(model) == "default", model


def test_a_page_not_marked_reads_the_primary(healthy):
    token = replicas._state.set(replicas.RequestState(data_page=False))
    try:
        assert router.db_for_read(Livestream) == "default"
    finally:
        replicas._state.reset(token)


def test_after_a_write_the_request_reads_the_primary(healthy, data_page):
    assert router.db_for_read(Livestream) == "replica"
    assert router.db_for_write(Grant) == "default"
    assert router.db_for_read(Livestream) == "default"
    assert data_page.wrote


def test_saving_the_session_pins_nothing(healthy, data_page):
    from django.contrib.sessions.models import Session

    assert router.db_for_write(Session) == "default"
    assert router.db_for_read(Livestream) == "replica"
    assert not data_page.wrote


def test_on_primary_reads_the_primary_inside_only(healthy, data_page):
    with replicas.on_primary():
        assert router.db_for_read(Livestream) == "default"
    assert router.db_for_read(Livestream) == "replica"


def test_a_write_inside_on_primary_keeps_the_request_on_the_primary(healthy, data_page):
    with replicas.on_primary():
        router.db_for_write(Grant)
    assert router.db_for_read(Livestream) == "default"


def test_inside_a_transaction_on_the_primary_reads_the_primary(healthy, data_page, monkeypatch):
    monkeypatch.setattr(replicas.connections["default"], "in_atomic_block", True)
    assert router.db_for_read(Livestream) == "default"


@pytest.mark.parametrize(("lag", "replica"), [(0.0, True), (5.0, True), (5.01, False), (math.inf, False)])
def test_the_lag_bound_decides(healthy, data_page, settings, lag, replica):
    settings.DATABASE_REPLICA_MAX_LAG = 5.0
    healthy.lag = lag
    assert (router.db_for_read(Livestream) == "replica") is replica


def test_a_replica_that_does_not_connect_is_skipped(healthy, data_page, monkeypatch):
    monkeypatch.setattr(replicas, "_connected", lambda: False)
    assert router.db_for_read(Livestream) == "default"
    assert not data_page.used_replica


def test_only_the_primary_is_migrated():
    assert router.allow_migrate("default", "livestreams") is True
    assert router.allow_migrate("replica", "livestreams") is False
    assert router.allow_relation(Livestream(), Creator()) is True


# --- the lag, measured at most once per interval -------------------------------------------------


@pytest.mark.parametrize(
    ("row", "lag"),
    [
        ((False, False, None), 0.0),  # not a standby (promoted, or the primary itself)
        ((True, True, 120.0), 0.0),  # replayed all it received, still streaming: current
        ((True, False, 2.5), 2.5),  # behind: the age of the last replayed commit
        ((True, False, None), math.inf),  # behind, nothing replayed yet: unknown
        ((True, False, -0.2), 0.0),  # clocks a hair apart
    ],
)
def test_lag_from_the_replicas_answer(row, lag):
    assert replicas.lag_from(*row) == lag


class FakeCursor:
    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        self.connection.executed.append(sql)
        if self.connection.error:
            raise self.connection.error

    def fetchone(self):
        return self.connection.row


class FakeConnection:
    in_atomic_block = False

    def __init__(self, row=(True, False, 1.0), error=None):
        self.row, self.error, self.executed, self.closed = row, error, [], 0

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed += 1


@pytest.fixture
def fake_replica(monkeypatch):
    connection = FakeConnection()
    monkeypatch.setattr(replicas, "connections", {"replica": connection, "default": FakeConnection()})
    return connection


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_lag_is_measured_at_most_once_per_interval(fake_replica, settings):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 2
    settings.DATABASE_REPLICA_MAX_LAG = 5
    clock = Clock()
    health = replicas.Health(clock)
    assert health.serving()
    assert health.serving()
    clock.now += 1.9
    assert health.serving()
    assert len(fake_replica.executed) == 1
    fake_replica.row = (True, False, 9.0)
    clock.now += 0.1
    assert not health.serving()
    assert fake_replica.executed == [replicas.LAG_SQL] * 2
    assert health.lag == 9.0


def test_a_failed_measurement_means_down_until_the_next(fake_replica, settings):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 2
    fake_replica.error = OperationalError("connection refused")
    clock = Clock()
    health = replicas.Health(clock)
    assert not health.serving()
    assert fake_replica.closed == 1
    fake_replica.error = None
    clock.now += 1
    assert not health.serving()
    clock.now += 1
    assert health.serving()


# --- the middleware: stickiness, data pages, a replica failing mid-request --------------------------

factory = RequestFactory()


def reading_view(request):
    return HttpResponse(str(replicas._state.get().data_page))


@replicas.reads_replica
def data_view(request):
    return HttpResponse(router.db_for_read(Livestream))


def run(request, view, *, outcome=None):
    """The middleware around ``view`` as Django calls it: process_view, the view, process_exception."""
    middleware = replicas.ReplicaMiddleware(lambda req: outcome(req) if outcome else call(req))

    def call(req):
        middleware.process_view(req, view, (), {})
        try:
            return view(req)
        except Exception as exc:
            response = middleware.process_exception(req, exc)
            if response is None:
                raise
            return response

    return middleware(request)


def test_a_post_makes_the_user_read_the_primary_for_a_few_seconds(healthy, settings):
    settings.DATABASE_REPLICA_STICKY_SECONDS = 7
    with time_machine.travel(1_000_000, tick=False) as clock:
        posted = run(factory.post("/grants/1/revoke/"), reading_view)
        cookie = posted.cookies[replicas.STICKY_COOKIE]
        assert cookie["max-age"] == 7
        assert cookie["httponly"]

        def get():
            request = factory.get("/creators/1/")
            request.COOKIES[replicas.STICKY_COOKIE] = cookie.value
            return run(request, data_view).content.decode()

        assert get() == "default"
        clock.shift(6.9)
        assert get() == "default"
        clock.shift(0.2)
        assert get() == "replica"


def test_a_forged_sticky_cookie_is_ignored(healthy):
    request = factory.get("/creators/1/")
    request.COOKIES[replicas.STICKY_COOKIE] = "1"
    assert run(request, data_view).content.decode() == "replica"


def test_a_get_that_writes_makes_the_user_sticky_and_one_that_reads_does_not(healthy):
    def writing_view(request):
        router.db_for_write(Grant)
        return HttpResponse()

    assert replicas.STICKY_COOKIE in run(factory.get("/"), writing_view).cookies
    assert replicas.STICKY_COOKIE not in run(factory.get("/"), data_view).cookies


def test_only_a_get_of_a_marked_view_is_a_data_page(healthy):
    assert run(factory.get("/"), reading_view).content == b"False"
    assert run(factory.get("/"), data_view).content == b"replica"
    assert run(factory.post("/"), data_view).content == b"default"


def test_a_data_page_that_fails_on_the_replica_is_served_again_from_the_primary(healthy, fake_replica):
    calls = []

    @replicas.reads_replica
    def view(request):
        alias = router.db_for_read(Livestream)
        calls.append(alias)
        if alias == "replica":
            raise OperationalError("server closed the connection unexpectedly")
        return HttpResponse(alias)

    response = run(factory.get("/"), view)
    assert response.content == b"default"
    assert calls == ["replica", "default"]
    assert replicas.health.lag == math.inf  # and down for the other requests until measured again
    assert fake_replica.closed == 1


def test_an_error_on_the_primary_is_not_retried(healthy):
    @replicas.reads_replica
    def view(request):
        raise OperationalError("the primary is gone")

    with pytest.raises(OperationalError):
        run(factory.get("/"), view)


def test_a_streamed_page_reads_with_its_requests_state(healthy):
    @replicas.reads_replica
    def view(request):
        return StreamingHttpResponse(router.db_for_read(Livestream) for _ in range(2))

    response = run(factory.get("/"), view)
    assert replicas._state.get() is None
    assert b"".join(response.streaming_content) == b"replicareplica"


# --- settings -----------------------------------------------------------------------------------


def _configured(**env) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    environment.update(DJANGO_SETTINGS_MODULE="portal.settings", **env)
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'aliases': sorted(s.DATABASES), 'routers': s.DATABASE_ROUTERS, 'middleware': s.MIDDLEWARE,"
        "'replica': s.DATABASES.get('replica', {}), 'sticky': s.DATABASE_REPLICA_STICKY_SECONDS,"
        "'cursors': {a: d.get('DISABLE_SERVER_SIDE_CURSORS') for a, d in s.DATABASES.items()}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_without_a_replica_url_there_is_one_database_and_no_router():
    configured = _configured()
    assert configured["aliases"] == ["default"]
    assert configured["routers"] == []
    assert "portal.replicas.ReplicaMiddleware" not in configured["middleware"]


def test_a_replica_url_installs_the_router_and_its_middleware_before_the_sessions():
    configured = _configured(
        DATABASE_URL="postgres://app@db-primary/portal",
        DATABASE_REPLICA_URL="postgres://app@db-replica/portal",
        DATABASE_REPLICA_MAX_LAG="3",
    )
    assert configured["aliases"] == ["default", "replica"]
    assert configured["replica"]["HOST"] == "db-replica"
    assert configured["replica"]["OPTIONS"]["connect_timeout"] == 2
    assert configured["routers"] == ["portal.replicas.ReplicaRouter"]
    middleware = configured["middleware"]
    assert middleware.index("portal.replicas.ReplicaMiddleware") < middleware.index(
        "portal.middleware.SessionMiddleware"
    )
    assert configured["sticky"] == 5.0  # the lag bound plus the check interval


def test_transaction_pooling_turns_server_side_cursors_off_on_every_database():
    env = {
        "DATABASE_URL": "postgres://app@pgbouncer/portal",
        "DATABASE_REPLICA_URL": "postgres://app@pgbouncer/replica",
    }
    assert _configured(**env)["cursors"] == {"default": False, "replica": False}
    assert _configured(**env, DATABASE_TRANSACTION_POOLING="1")["cursors"] == {"default": True, "replica": True}
