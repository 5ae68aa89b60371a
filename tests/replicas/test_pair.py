"""Issue 18's proof, on a real streaming replica that replays every transaction a few seconds late
(``recovery_min_apply_delay``): a revoked grant is refused on the very next request, because every
access decision reads the primary, while the livestream data of a creator still authorized comes
from the lagging replica; past the lag bound, after the user's own change, and with the replica
stopped, the data comes from the primary.

Which database answered is asserted two ways: the queries each alias ran (``query_log``), and a
livestream title changed on the primary while the replica still shows the old one.
"""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.core.cache import cache
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grants.factories import GrantFactory
from grants.models import Grant
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from livestreams.views import module_cache_key
from portal import replicas
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.xdist_group("replica-pair")

OLD_TITLE = "副本上的旧标题"
NEW_TITLE = "主库上的新标题"
TABLE = re.compile(r'FROM "(\w+)"|JOIN "(\w+)"')
FIRST_TABLE = re.compile(r'FROM "(\w+)"')
DECIDING = ("grants_", "portal_membership", "portal_user", "django_session")


def tables(queries: list[str]) -> set[str]:
    return {name for sql in queries for match in TABLE.findall(sql) for name in match if name}


def data_queries(queries: list[str]) -> list[str]:
    """The replica's queries without its lag check."""
    return [sql for sql in queries if sql != replicas.LAG_SQL]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_world() -> dict:
    """Creator A and creator B, each with an active grant to a shop and an ended livestream in which
    the shop sold (in the data pages' default range)."""
    shop = ShopFactory()
    world = {"shop": shop}
    for key in ("a", "b"):
        creator = CreatorFactory()
        grant = GrantFactory(creator=creator, organization=shop)
        started_at = timezone.now() - datetime.timedelta(days=2)
        livestream = LivestreamFactory(creator=creator, cooperating=[shop], title=OLD_TITLE, started_at=started_at)
        world[key] = (creator, grant, livestream)
    return world


@pytest.fixture(scope="module")
def worlds(pair_database, django_db_blocker):
    """One world per test, made together and replayed on the replica once (each wait is the apply delay)."""
    with django_db_blocker.unblock(), pair_database.active(router=False):
        made = [make_world() for _ in range(4)]
        pair_database.caught_up()
    return made


@pytest.fixture
def world(pair, worlds):
    """A world of its own for the test, replayed on the replica, with logged-in clients for its
    shop's main account and creator A."""
    world = worlds.pop() if worlds else make_world()
    pair.caught_up()  # at once for a world made in advance
    return {**world, "main": client_for(world["shop"].main_account), "creator_a": client_for(world["a"][0].user)}


def test_revoked_grant_is_refused_at_once_while_data_comes_from_the_lagging_replica(pair, world, query_log):
    (creator_a, grant_a, livestream_a), (creator_b, _grant_b, livestream_b) = world["a"], world["b"]
    main = world["main"]
    # Two changes on the primary that the replica will replay seconds from now.
    Livestream.objects.filter(pk=livestream_b.pk).update(title=NEW_TITLE)
    query_log.mark("revoke")
    response = world["creator_a"].post(reverse("grants:revoke", args=[grant_a.pk]))
    assert response.status_code == 302
    assert replicas.STICKY_COOKIE in response.cookies
    assert Grant.objects.get(pk=grant_a.pk).revoked_at is not None

    query_log.mark("refused")
    assert main.get(reverse("livestreams:creator_overview", args=[creator_a.pk])).status_code == 404
    query_log.mark("refused-module")
    assert main.get(reverse("livestreams:traffic", args=[livestream_a.pk])).status_code == 403
    query_log.mark("served")
    response = main.get(reverse("livestreams:creator_livestreams", args=[creator_b.pk]))
    assert response.status_code == 200
    query_log.mark("export")
    export = b"".join(main.get(reverse("livestreams:creator_export", args=[creator_b.pk])).streaming_content)
    query_log.mark("detail")
    detail = main.get(reverse("livestreams:detail", args=[livestream_b.pk]))
    assert detail.status_code == 200
    query_log.mark("after")

    # The replica had replayed neither change when those requests were served …
    replica_grant = Grant.objects.using("replica").get(pk=grant_a.pk)
    assert replica_grant.revoked_at is None, "the replica caught up too early for the test to prove anything"
    assert Livestream.objects.using("replica").get(pk=livestream_b.pk).title == OLD_TITLE
    # … so the refusals were decided on the primary: the replica ran nothing for them.
    assert data_queries(query_log.of("refused", "replica")) == []
    assert data_queries(query_log.of("refused-module", "replica")) == []
    # The authorized creator's data came from the replica (its old title), the decision from the primary.
    assert OLD_TITLE in response.content.decode()
    assert NEW_TITLE not in response.content.decode()
    assert OLD_TITLE in export.decode("utf-8-sig")
    for label in ("served", "export", "detail"):
        served = data_queries(query_log.of(label, "replica"))
        assert served, f"{label}: nothing read from the replica"
        # Each reads a livestream-data model (joining display names, e.g. a product's shop) and
        # never a table an access decision reads.
        assert all(FIRST_TABLE.search(sql)[1].startswith("livestreams_") for sql in served), served
        assert not {name for name in tables(served) if name.startswith(DECIDING)}, tables(served)
        primary_tables = tables(query_log.of(label, "default"))
        assert {"grants_grant", "django_session"} & primary_tables, primary_tables
    # The detail page's gate loaded the livestream from the primary (its title is the new one).
    assert "livestreams_livestream" in tables(query_log.of("detail", "default"))
    assert NEW_TITLE in detail.content.decode()

    # The creator who revoked is sticky: their own data page reads the primary.
    query_log.mark("sticky")
    own = world["creator_a"].get(reverse("livestreams:creator_livestreams", args=[creator_a.pk]))
    assert own.status_code == 200
    assert query_log.of("sticky", "replica") == []
    counts = query_log.counts()
    print(  # the figures of the report (pytest -s)
        "queries by request and database:",
        {f"{label}/{alias}": count for (label, alias), count in sorted(counts.items())},
    )


def test_past_the_lag_bound_the_data_comes_from_the_primary(pair, world, query_log, settings):
    creator_b, livestream_b = world["b"][0], world["b"][2]
    url = reverse("livestreams:creator_livestreams", args=[creator_b.pk])
    Livestream.objects.filter(pk=livestream_b.pk).update(title=NEW_TITLE)
    settings.DATABASE_REPLICA_MAX_LAG = 1.0
    time.sleep(1.5)  # the replica now lags by more than 1 s (it replays after the apply delay)
    replicas.health.forget()

    query_log.mark("lagging")
    response = world["main"].get(url)
    assert response.status_code == 200
    assert NEW_TITLE in response.content.decode()
    assert query_log.of("lagging", "replica") == [replicas.LAG_SQL]  # measured, then not used
    assert replicas.health.lag > 1.0

    # Within a bound it meets (the replica shows the change now), the replica serves again.
    pair.caught_up()
    settings.DATABASE_REPLICA_MAX_LAG = 3600
    query_log.mark("caught-up")
    response = world["main"].get(url)
    assert NEW_TITLE in response.content.decode()
    assert data_queries(query_log.of("caught-up", "replica"))


def test_a_module_read_from_a_replica_behind_its_livestream_is_not_cached(pair, world, query_log):
    livestream_b = world["b"][2]
    Livestream.objects.filter(pk=livestream_b.pk).update(title=NEW_TITLE)
    cache.clear()
    url = reverse("livestreams:traffic", args=[livestream_b.pk])
    query_log.mark("behind")
    assert world["main"].get(url).status_code == 200
    assert data_queries(query_log.of("behind", "replica"))  # the module's data came from the replica
    assert Livestream.objects.using("replica").get(pk=livestream_b.pk).title == OLD_TITLE  # still behind
    fresh = Livestream.objects.select_related("creator").get(pk=livestream_b.pk)
    assert cache.get(module_cache_key(fresh, "traffic")) is None

    pair.caught_up()
    assert world["main"].get(url).status_code == 200
    assert cache.get(module_cache_key(fresh, "traffic")) is not None


def test_with_the_replica_stopped_the_portal_serves_from_the_primary(pair, world, query_log):
    creator_b, livestream_b = world["b"][0], world["b"][2]
    urls = [
        reverse("livestreams:creator_overview", args=[creator_b.pk]),
        reverse("livestreams:creator_livestreams", args=[creator_b.pk]),
        reverse("livestreams:creator_export", args=[creator_b.pk]),
        reverse("livestreams:detail", args=[livestream_b.pk]),
        reverse("livestreams:big_screen", args=[livestream_b.pk]),
    ]
    main = world["main"]
    query_log.mark("before")
    assert main.get(urls[1]).status_code == 200
    assert data_queries(query_log.of("before", "replica"))  # its connection is open now
    assert replicas.health.serving()

    pair.script("stop-replica")
    try:
        # The lag measured a moment ago says "serving", and the test client skips the health check
        # of kept connections that a server runs at each request: the first query on the replica
        # fails, and the page is made again from the primary.
        query_log.mark("failed")
        response = main.get(urls[0])
        assert response.status_code == 200
        assert len(query_log.of("failed", "replica")) == 1  # the query that failed
        assert not replicas.health.serving()
        # Until the next measurement every read goes to the primary.
        query_log.mark("down")
        for url in urls:
            response = main.get(url)
            assert response.status_code == 200, url
            if response.streaming:
                b"".join(response.streaming_content)
        assert query_log.of("down", "replica") == []
        assert tables(query_log.of("down", "default")) >= {"livestreams_livestream", "livestreams_creatorday"}
        # Measured again: still down, without a query on it.
        replicas.health.forget()
        query_log.mark("measured")
        assert main.get(urls[1]).status_code == 200
        assert query_log.of("measured", "replica") == []
        # As a server does at the start of each request (the kept connection is checked), with the
        # lag still believed fine: the dead connection is noticed before any query is routed to it.
        replicas.health.lag, replicas.health.checked_at = 0.0, time.monotonic()
        close_old_connections()
        query_log.mark("checked")
        assert main.get(urls[1]).status_code == 200
        assert query_log.of("checked", "replica") == []
        assert not replicas.health.serving()
    finally:
        pair.script("start-replica")
    replicas.health.forget()
    query_log.mark("restarted")
    assert main.get(urls[1]).status_code == 200
    assert data_queries(query_log.of("restarted", "replica"))
