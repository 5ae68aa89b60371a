"""A database that is down or does not answer (issue 12, items 3 and 4): 503 with ``Retry-After`` and
the portal's own page, wherever the error is raised; ``/healthz`` (liveness) never touches the
database; ``/readyz`` (readiness) asks it on a fresh connection within a short timeout; the
connection options bound connecting and every statement."""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from grants.factories import GrantFactory
from grants.models import Grant
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
POSTGRES = connection.vendor == "postgresql"


def database_fails(error):
    """Every query from now on raises ``error`` (as a dropped or hung connection does)."""
    return mock.patch.object(CursorWrapper, "_execute", side_effect=error)


@pytest.fixture
def web():
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
@pytest.mark.parametrize("who", ["anonymous", "creator", "main"])
def test_database_errors_are_503_with_retry_after_and_the_portal_page(web, error, who):
    if who == "creator":
        web.force_login(CreatorFactory().user)
    elif who == "main":
        web.force_login(ShopFactory().main_account)
    # Anonymous: a login post (the throttle's count and the user are read); signed in: pages (the
    # session and the user are read by middleware before any view).
    if who == "anonymous":
        requests = [("post", reverse("login"), {"username": "someone", "password": "x"})]
    else:
        requests = [("get", reverse(name), {}) for name in ("grants:org_home", "login", "grants:creator_grants")]
    for method, path, data in requests:
        with database_fails(error):
            response = getattr(web, method)(path, data)
        assert response.status_code == 503, (who, path)
        assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
        assert "服务暂时不可用" in response.content.decode()


def test_a_database_error_while_posting_is_503_too(web):
    creator = CreatorFactory()
    web.force_login(creator.user)
    with database_fails(OperationalError("canceling statement due to statement timeout")):
        response = web.post(reverse("grants:authorize"), {"organization": "1"})
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)


def test_other_errors_stay_500(web):
    creator = CreatorFactory()
    web.force_login(creator.user)
    with mock.patch("grants.views.grants._creator_list_context", side_effect=ValueError("a bug")):
        response = web.get(reverse("grants:creator_grants"))
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_healthz_answers_without_the_database(web):
    with database_fails(OperationalError("down")), mock.patch.object(CursorWrapper, "execute") as execute:
        response = web.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"
    execute.assert_not_called()


def test_readyz_asks_the_database(web):
    response = web.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]
    with database_fails(OperationalError("down")):
        response = web.get(reverse("readyz"))
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)


@pytest.fixture
def silent_server():
    """A port on loopback that accepts connections and never says a word (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL's connect_timeout (SQLite has no server to hang)")
def test_readyz_gives_up_on_a_database_that_never_answers(web, silent_server):
    hung = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(silent_server)}
    with mock.patch.dict(connection.settings_dict, hung):
        started = time.monotonic()
        response = web.get(reverse("readyz"))
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < settings.READY_TIMEOUT_SECONDS + 2, elapsed


@pytest.mark.skipif(not POSTGRES, reason="statement_timeout is PostgreSQL's")
def test_every_connection_carries_the_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (value,) = cursor.fetchone()
    assert value == f"{settings.DB_STATEMENT_TIMEOUT_MS // 1000}s"
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == settings.DB_CONNECT_TIMEOUT


def test_time_limits_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DATABASE_URL="postgres://portal@db.example:5432/portal",
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_DB_CONNECT_TIMEOUT="4",
        DJANGO_DB_STATEMENT_TIMEOUT="2500",
        DJANGO_RETRY_AFTER="9",
    )
    code = (
        "from django.conf import settings as s; o = s.DATABASES['default']['OPTIONS'];"
        "print(o['connect_timeout'], o['options'], s.RETRY_AFTER_SECONDS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.split() == ["4", "-c", "statement_timeout=2500", "9"]
    env["DJANGO_DB_STATEMENT_TIMEOUT"] = "0"
    code = "from django.conf import settings as s; print('options' in s.DATABASES['default']['OPTIONS'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "False"


def session_save_fails(cause: Exception | None):
    """The session cannot be saved: ``SessionStore.save`` raises ``UpdateError`` as Django's does for
    a database error (``cause``), or for a session deleted meanwhile (no cause)."""

    def save(self, must_create=False):
        if cause is None:
            raise UpdateError
        try:
            raise cause
        except type(cause):
            raise UpdateError  # noqa: B904 - exactly as SessionStore.save raises it

    return mock.patch.object(SessionStore, "save", save)


@pytest.fixture
def shop_with_grant():
    grant = GrantFactory()
    return grant.organization.main_account, grant.creator


def test_a_session_the_database_cannot_save_is_503_not_400(web, shop_with_grant):
    main, creator = shop_with_grant
    web.force_login(main)
    with session_save_fails(OperationalError("server closed the connection unexpectedly")):
        # Entering the creator's perspective writes the session.
        response = web.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)


def test_a_saved_change_keeps_its_success_answer_when_the_session_cannot_be_saved(web):
    grant = GrantFactory()
    web.force_login(grant.creator.user)
    new_end = grant.ends_on + datetime.timedelta(days=7)
    with session_save_fails(InterfaceError("connection already closed")):
        response = web.post(reverse("grants:renew_early", args=[grant.pk]), {"ends_on": new_end.isoformat()})
    assert response.status_code == 302
    assert Grant.objects.get(pk=grant.pk).ends_on == new_end


def test_a_session_deleted_meanwhile_is_still_djangos_400(web, shop_with_grant):
    main, creator = shop_with_grant
    web.force_login(main)
    with session_save_fails(None):
        response = web.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    assert response.status_code == 400
