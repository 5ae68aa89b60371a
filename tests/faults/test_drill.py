"""The fault drill (issue 12): gunicorn on loopback, under load, in front of a database that
restarts, comes back hung, and freezes while a worker is killed — PostgreSQL only.

"The database" is a TCP proxy the test controls (``proxy.py``) in front of the shared PostgreSQL
server, which is never touched. Three clients keep two sync workers busy: two read a shop's gated
page (``/creators/<id>/``, through its grant), one authorizes a new organization per request (a
write with its history event). The drill checks:

- while the database is down, or hung (accepting connections, never answering), every request gets
  503 with ``Retry-After`` within the connect timeout (never a 500, never a hung worker); ``/healthz``
  still answers, ``/readyz`` says 503;
- within 5 s of the database coming back, pages and writes succeed again, by themselves;
- every write that reported success (302) is in the database afterwards, each with its history event;
- a worker killed (SIGKILL) while its request waits on the database loses only that request: every
  other request completes, and the master replaces the worker.

Timing is polled against deadlines, never slept on and hoped for.
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone

from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent
from portal.factories import CreatorFactory, ShopFactory
from portal.models import Organization

from .proxy import DOWN, HANG, PAUSED, UP, Proxy

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the drill runs gunicorn against PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT = 2  # DJANGO_DB_CONNECT_TIMEOUT of the drill's gunicorn
READY_TIMEOUT = 1
RECOVERY = 5.0  # seconds after the database is back within which the portal must serve again
CSRF = "d" * 32
OK = (200, 302)


# --- the portal under load --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(port: int, method: str, path: str, cookie: str = "", body: str | None = None, timeout: float = 20):
    """(status or "error", headers, seconds)."""
    headers = {"Cookie": cookie}
    if body is not None:
        headers.update({"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": CSRF})
    started = time.monotonic()
    conn = HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders()), time.monotonic() - started
    except OSError:
        return "error", {}, time.monotonic() - started
    finally:
        conn.close()


@dataclass
class Outcome:
    kind: str  # "read" | "write"
    started: float
    ended: float
    status: int | str
    retry_after: str | None = None
    organization: int | None = None


@dataclass
class Load:
    port: int
    reader_cookie: str
    writer_cookie: str
    page: str
    organizations: list[int]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _record(self, kind, started, status, headers, organization=None):
        outcome = Outcome(kind, started, time.monotonic(), status, headers.get("Retry-After"), organization)
        self.outcomes.append(outcome)  # list.append is atomic

    def _read(self):
        while not self.stop.is_set():
            started = time.monotonic()
            status, headers, _ = http(self.port, "GET", self.page, self.reader_cookie)
            self._record("read", started, status, headers)

    def _write(self):
        day = timezone.localdate()
        period = f"starts_on={day}&ends_on={day + datetime.timedelta(days=30)}"
        for organization in self.organizations:
            if self.stop.is_set():
                return
            started = time.monotonic()
            body = f"organization={organization}&{period}"
            status, headers, _ = http(self.port, "POST", "/grants/new/", self.writer_cookie, body)
            self._record("write", started, status, headers, organization)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._read) for _ in range(2)] + [threading.Thread(target=self._write)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def first_success_after(self, moment: float, kind: str) -> Outcome | None:
        done = [o for o in self.outcomes if o.kind == kind and o.started >= moment and o.status in OK]
        return min(done, key=lambda o: o.ended) if done else None

    def within(self, start: float, end: float) -> list[Outcome]:
        """The outcomes of requests made and answered between ``start`` and ``end``."""
        return [o for o in list(self.outcomes) if o.started >= start and o.ended <= end]


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def workers_of(master: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry))
    return sorted(children)


def session_cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"sessionid={store.session_key}; csrftoken={CSRF}"


@pytest.fixture
def portal():
    """Data committed for gunicorn to see, the proxy in front of PostgreSQL, gunicorn behind it."""
    creator, shop = CreatorFactory(), ShopFactory()
    GrantFactory(creator=creator, organization=shop)
    organizations = Organization.objects.bulk_create(
        Organization(name=f"演练店铺{i:03d}", kind="shop", code=f"drill-{i:03d}") for i in range(400)
    )
    db = connection.settings_dict
    proxy = Proxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    port = free_port()
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DATABASE_URL": f"postgres://{user}@127.0.0.1:{proxy.port}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "DJANGO_READY_TIMEOUT": str(READY_TIMEOUT),
        "DJANGO_RETRY_AFTER": "2",
        "DJANGO_CONN_MAX_AGE": "60",  # persistent connections: the broken ones must be noticed
        "DJANGO_LOG_LEVEL": "CRITICAL",
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*gunicorn, "--timeout", "30", "--graceful-timeout", "3", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(lambda: http(port, "GET", "/healthz", timeout=1)[0] == 200, 30), "gunicorn did not start"
        load = Load(
            port=port,
            reader_cookie=session_cookie(shop.main_account),
            writer_cookie=session_cookie(creator.user),
            page=f"/creators/{creator.pk}/",
            organizations=[o.pk for o in organizations],
        )
        yield {"load": load, "proxy": proxy, "server": server, "port": port, "creator": creator}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        proxy.close()


def assert_every_success_is_stored(load: Load, creator) -> None:
    written = {o.organization for o in load.outcomes if o.kind == "write" and o.status == 302}
    assert written, "no write succeeded"
    stored = set(Grant.objects.for_creator(creator).not_revoked().values_list("organization_id", flat=True))
    assert written <= stored, f"reported but lost: {sorted(written - stored)}"
    grants = Grant.objects.for_creator(creator)
    # Each authorization is whole: its grant and its history event, or neither.
    assert GrantEvent.objects.filter(grant__in=grants, operation="authorize").count() == grants.count()


def assert_unavailable(outcomes: list[Outcome], limit: float) -> None:
    assert outcomes, "no request was answered during the outage"
    statuses = {o.status for o in outcomes}
    assert statuses == {503}, statuses
    assert all(o.retry_after == "2" for o in outcomes)
    slowest = max(o.ended - o.started for o in outcomes)
    assert slowest < limit, f"a request took {slowest:.1f} s: " + str(
        [(o.kind, o.status, round(o.ended - o.started, 2)) for o in outcomes]
    )


# --- the drill ----------------------------------------------------------------------------------


def test_database_restart_and_hang_under_load(portal):
    load, proxy, port = portal["load"], portal["proxy"], portal["port"]
    timings = {}
    with load:
        assert wait_for(lambda: len([o for o in load.outcomes if o.status in OK]) >= 6, 20), "no healthy traffic"

        # 1. The database restarts: connections dropped, new ones refused.
        down = time.monotonic()
        proxy.set(DOWN)
        assert wait_for(lambda: len(load.within(down + 0.1, time.monotonic())) >= 6, 10), [
            (o.kind, o.status, round(o.started - down, 2), round(o.ended - down, 2)) for o in load.outcomes[-12:]
        ]
        assert http(port, "GET", "/healthz", timeout=5)[0] == 200
        status, headers, _ = http(port, "GET", "/readyz", timeout=5)
        assert (status, headers.get("Retry-After")) == (503, "2")
        up = time.monotonic()
        proxy.set(UP)
        assert_unavailable(load.within(down + 0.1, up), limit=CONNECT_TIMEOUT + 1.5)
        for kind in ("read", "write"):
            first = wait_for(lambda kind=kind: load.first_success_after(up, kind), RECOVERY + 5)
            assert first is not None, f"no {kind} succeeded after the database came back: " + str(
                [(o.kind, o.status, round(o.started - up, 2)) for o in load.outcomes if o.kind == kind][-15:]
            )
            timings[f"restart_recovery_{kind}"] = first.ended - up
            assert first.ended - up < RECOVERY, f"{kind} recovered after {first.ended - up:.1f} s"
        assert http(port, "GET", "/readyz", timeout=5)[0] == 200

        # 2. The database comes back hung: connections accepted, never answered.
        hang = time.monotonic()
        proxy.set(HANG)
        started = time.monotonic()
        healthz = http(port, "GET", "/healthz", timeout=15)
        assert healthz[0] == 200
        timings["healthz_while_hung"] = healthz[2]
        assert healthz[2] < 2 * CONNECT_TIMEOUT + 1.5, f"/healthz took {healthz[2]:.1f} s"
        readyz = http(port, "GET", "/readyz", timeout=15)
        assert readyz[0] == 503
        assert wait_for(lambda: len(load.within(started, time.monotonic())) >= 6, 20)
        up = time.monotonic()
        proxy.set(UP)
        hung = load.within(hang + 0.1, up)
        # Each request costs its worker one connect timeout; with more clients than workers, a
        # request may also wait for the one ahead of it.
        assert_unavailable(hung, limit=2 * CONNECT_TIMEOUT + 1.5)
        timings["slowest_503_while_hung"] = max(o.ended - o.started for o in hung)
        for kind in ("read", "write"):
            first = wait_for(lambda kind=kind: load.first_success_after(up, kind), RECOVERY + 5)
            assert first is not None, f"no {kind} succeeded after the hang"
            timings[f"hang_recovery_{kind}"] = first.ended - up
            assert first.ended - up < RECOVERY + CONNECT_TIMEOUT, f"{kind} recovered after {first.ended - up:.1f} s"
    statuses = {o.status for o in load.outcomes}
    assert statuses <= {200, 302, 503}, statuses  # never a 500, never a dropped connection
    assert_every_success_is_stored(load, portal["creator"])
    print("drill timings (s):", {k: round(v, 2) for k, v in timings.items()})  # noqa: T201 - shown with -s


def test_a_worker_killed_mid_request_loses_only_that_request(portal):
    load, proxy, server = portal["load"], portal["proxy"], portal["server"]
    with load:
        assert wait_for(lambda: len([o for o in load.outcomes if o.status in OK]) >= 6, 20), "no healthy traffic"
        workers = workers_of(server.pid)
        assert len(workers) == 2
        # Freeze the database: both workers' requests stall mid-flight on a query.
        proxy.set(PAUSED)
        assert proxy.wait_for_held(2, timeout=5), (
            f"the workers' requests did not reach the database: {len(proxy._held)} "
            + str([(o.kind, o.status, round(o.started - time.monotonic(), 2)) for o in load.outcomes[-6:]])
        )
        killed = time.monotonic()
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(0.2)  # the kill is delivered (the master reaps and respawns on its own)
        proxy.set(UP)
        assert wait_for(lambda: len(workers_of(server.pid)) == 2 and workers_of(server.pid) != workers, 15)
        after = time.monotonic()
        assert wait_for(lambda: len(load.within(after, time.monotonic())) >= 6, 20)
    lost = [o for o in load.outcomes if o.status not in OK]
    assert len(lost) == 1, [(o.kind, o.status) for o in lost]
    assert lost[0].status == "error"
    assert lost[0].started < killed < lost[0].ended
    assert_every_success_is_stored(load, portal["creator"])
