"""数据访问记录 (SPEC §11): recorded where the decision is made, one row per (viewer, creator, page,
livestream, day), not for the creator, not for refusals; the page, its filters and query count;
fail-closed writes; the purge; idle grants."""

import contextlib
import logging

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from grants import access_log, services
from grants.factories import GrantFactory
from grants.models import AccessLogEntry, Grant
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import TODAY, at_shanghai, d

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(frozen_today):
    creator = CreatorFactory(name="日志达人")
    shop = ShopFactory(name="看数据的店")
    grant = GrantFactory(creator=creator, organization=shop)
    livestream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=3, title="第一场")
    return {"creator": creator, "shop": shop, "grant": grant, "main": shop.main_account, "livestream": livestream}


def overview(creator):
    return reverse("livestreams:creator_overview", args=[creator.pk])


def rows():
    return list(AccessLogEntry.objects.order_by("pk"))


# --- what is recorded ---------------------------------------------------------------------------------


def test_a_delegate_s_view_is_recorded_with_its_delegation_and_grant(client, world):
    """SPEC §12 × §11: a sub-account viewing under a delegation is logged with the delegation as its
    authority and the grant beside it, so the grant is not idle while only its delegate looks."""
    staff = SubAccountFactory(organization=world["shop"])
    delegation = services.delegate(
        grant=world["grant"], sub_account=staff, ends_on=world["grant"].ends_on, actor=world["main"]
    )
    client.force_login(staff)
    assert client.get(overview(world["creator"])).status_code == 200
    [entry] = rows()
    assert (entry.viewer, entry.page, entry.grant, entry.delegation) == (staff, "overview", world["grant"], delegation)
    assert not Grant.objects.filter(pk=world["grant"].pk).idle(TODAY).exists()


def test_a_view_by_the_main_account_is_recorded_with_its_grant_and_counted(client, world):
    client.force_login(world["main"])
    assert client.get(overview(world["creator"])).status_code == 200
    [entry] = rows()
    assert (entry.viewer, entry.creator, entry.organization) == (world["main"], world["creator"], world["shop"])
    assert (entry.page, entry.livestream, entry.day, entry.views) == ("overview", None, TODAY, 1)
    assert entry.grant == world["grant"]
    assert entry.livestream_request is None
    first = entry.first_at
    assert client.get(overview(world["creator"])).status_code == 200
    [entry] = rows()
    assert entry.views == 2
    assert entry.first_at == first


def test_each_page_kind_has_its_own_row(client, world):
    client.force_login(world["main"])
    creator, livestream = world["creator"], world["livestream"]
    urls = [
        overview(creator),
        reverse("livestreams:creator_livestreams", args=[creator.pk]),
        reverse("livestreams:creator_export", args=[creator.pk]),
        reverse("livestreams:detail", args=[livestream.pk]),
        reverse("livestreams:big_screen", args=[livestream.pk]),
        reverse("livestreams:traffic", args=[livestream.pk]),
        reverse("livestreams:audience", args=[livestream.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    kinds = {(e.page, e.livestream_id) for e in rows()}
    assert kinds == {
        ("overview", None), ("livestreams", None), ("livestreams_csv", None), ("livestream", livestream.pk),
        ("big_screen", livestream.pk), ("traffic", livestream.pk), ("audience", livestream.pk),
    }  # fmt: skip
    assert all(e.grant_id == world["grant"].pk for e in rows())


def test_big_screen_refreshes_count_on_one_row(client, world):
    client.force_login(world["main"])
    url = reverse("livestreams:big_screen", args=[world["livestream"].pk])
    client.get(url)
    for _ in range(3):
        client.get(url, HTTP_HX_TARGET="big-screen-live", **HTMX)
    [entry] = rows()
    assert (entry.page, entry.views) == ("big_screen", 4)


def test_the_creator_themself_is_not_recorded(client, world):
    client.force_login(world["creator"].user)
    client.get(overview(world["creator"]))
    client.get(reverse("livestreams:traffic", args=[world["livestream"].pk]))
    assert rows() == []


def test_refused_requests_are_not_recorded(client, world):
    stranger = ShopFactory().main_account
    sub = SubAccountFactory(organization=world["shop"])
    for user in (stranger, sub):
        client.force_login(user)
        assert client.get(overview(world["creator"])).status_code == 404
    client.force_login(sub)  # cooperating, no approved request: the modules are refused (403)
    assert client.get(reverse("livestreams:traffic", args=[world["livestream"].pk])).status_code == 403
    services.revoke(grant=world["grant"], actor=world["creator"].user)
    client.force_login(world["main"])
    assert client.get(overview(world["creator"])).status_code in (302, 404)
    assert rows() == []


def test_a_cooperating_member_on_the_basic_detail_page_is_not_a_view_of_the_creators_data(client, world):
    sub = SubAccountFactory(organization=world["shop"])
    client.force_login(sub)
    assert client.get(reverse("livestreams:detail", args=[world["livestream"].pk])).status_code == 200
    assert rows() == []


def test_an_approved_livestream_request_is_the_authority_of_its_views(client, world):
    sub = SubAccountFactory(organization=world["shop"])
    approved = services.request_livestream_access(livestream=world["livestream"], actor=sub)
    services.approve_livestream_request(request=approved, actor=world["creator"].user)
    client.force_login(sub)
    assert client.get(reverse("livestreams:audience", args=[world["livestream"].pk])).status_code == 200
    [entry] = rows()
    assert (entry.livestream_request_id, entry.grant_id, entry.organization_id) == (approved.pk, None, world["shop"].pk)


def test_a_day_is_a_day_in_asia_shanghai(client, world):
    client.force_login(world["main"])
    with time_machine.travel(at_shanghai(TODAY, 23, 59, 59), tick=False):
        client.get(overview(world["creator"]))
    with time_machine.travel(at_shanghai(d(1), 0, 0, 0), tick=False):
        client.get(overview(world["creator"]))
    assert [(e.day, e.views) for e in rows()] == [(TODAY, 1), (d(1), 1)]


def test_the_upsert_counts_one_row_per_key_directly(world):
    """The statement itself, on both dialects: a livestream row and a page row side by side."""
    base = dict(
        viewer_id=world["main"].pk, creator_id=world["creator"].pk, organization_id=world["shop"].pk,
        day=TODAY, grant_id=world["grant"].pk, livestream_request_id=None,
    )  # fmt: skip
    for _ in range(3):
        access_log.upsert_view(page="traffic", livestream_id=world["livestream"].pk, at=at_shanghai(TODAY, 9), **base)
        access_log.upsert_view(page="overview", livestream_id=None, at=at_shanghai(TODAY, 10), **base)
    assert sorted((e.page, e.views) for e in rows()) == [("overview", 3), ("traffic", 3)]


# --- a failed write: the page fails closed ------------------------------------------------------------


@contextlib.contextmanager
def log_table_refuses_writes():
    """The log's table refuses every insert and update, as a full disk would: a trigger, so that
    whichever statement writes the log (the upsert after a decision, or the decision that records
    on PostgreSQL) fails in the database itself."""
    table = AccessLogEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_log BEFORE INSERT OR UPDATE ON {table} EXECUTE FUNCTION refuse_log()"
            )
        else:
            for event in ("INSERT", "UPDATE"):
                refuse = "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                cursor.execute(f"CREATE TRIGGER refuse_log_{event} BEFORE {event} ON {table} {refuse}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER refuse_log ON {table}")
                cursor.execute("DROP FUNCTION refuse_log()")
            else:
                for event in ("INSERT", "UPDATE"):
                    cursor.execute(f"DROP TRIGGER refuse_log_{event}")


@pytest.mark.django_db(transaction=True)  # the statement fails in the database: no test transaction around it
def test_a_failed_write_refuses_the_page_and_says_so_in_the_log(world, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(world["main"])
    with log_table_refuses_writes(), caplog.at_level(logging.ERROR, logger="grants.access"):
        overview_response = client.get(overview(world["creator"]))
        module = client.get(reverse("livestreams:traffic", args=[world["livestream"].pk]))
        export = client.get(reverse("livestreams:creator_export", args=[world["creator"].pk]))
    for response in (overview_response, module, export):
        assert response.status_code == 503
        assert response["Retry-After"]
        body = response.content.decode()
        assert "第一场" not in body
        assert "日志达人" not in body
    assert "access log not written" in caplog.text
    assert rows() == []
    # and once the log can be written again, the pages are served and recorded
    assert client.get(overview(world["creator"])).status_code == 200
    assert client.get(reverse("livestreams:traffic", args=[world["livestream"].pk])).status_code == 200
    assert sorted(e.page for e in rows()) == ["overview", "traffic"]


def test_a_record_that_differs_from_the_answer_refuses_the_page(world, caplog, monkeypatch):
    """The livestream's decision records the view in its own statement (PostgreSQL); the row it
    wrote is checked against the answer derived in Python. Were the two rules ever to differ, the
    page is refused like a failed write, not served under a wrong authority."""
    if not access_log.records_with_answer():
        pytest.skip("the decision records the view itself on PostgreSQL only")
    from grants import access

    def another_authority(rows):
        return access.LivestreamAccess(detail=True, modules=True, authority=access._lazy(Grant, 10**9))

    monkeypatch.setattr(access, "_livestream_answer", another_authority)
    client = Client(raise_request_exception=False)
    client.force_login(world["main"])
    with caplog.at_level(logging.ERROR, logger="grants.access"):
        response = client.get(reverse("livestreams:traffic", args=[world["livestream"].pk]))
    assert response.status_code == 503
    assert "access log not written" in caplog.text


# --- the page ------------------------------------------------------------------------------------------


def _log_some(world, count):
    other = ShopFactory(name="另一家店")
    GrantFactory(creator=world["creator"], organization=other)
    for i in range(count):
        org = world["shop"] if i % 2 else other
        access_log.upsert_view(
            viewer_id=org.main_account.pk, creator_id=world["creator"].pk, organization_id=org.pk,
            page=["overview", "traffic"][i % 2], livestream_id=world["livestream"].pk if i % 2 else None,
            at=at_shanghai(d(-i), 9), day=d(-i), grant_id=None, livestream_request_id=None,
        )  # fmt: skip
    return other


@pytest.mark.parametrize("count", [2, 45])
def test_the_log_page_has_a_fixed_query_count(client, world, django_assert_num_queries, count):
    _log_some(world, count)
    client.force_login(world["creator"].user)
    # session, user with party, the shell's badges and bell (one), a page of rows (one)
    with django_assert_num_queries(4):
        response = client.get(reverse("grants:access_log"))
    assert response.status_code == 200
    with django_assert_num_queries(4):
        client.get(reverse("grants:access_log"), {"kind": "traffic", "start": d(-20).isoformat(), "page": 2})


def test_the_log_page_filters_by_organization_page_and_dates(client, world):
    other = _log_some(world, 10)
    client.force_login(world["creator"].user)

    def shown(**params):
        response = client.get(reverse("grants:access_log"), params, **HTMX)
        return response.content.decode().count("<tr>") - 1  # the header row

    assert shown() == 10
    assert shown(organization=other.pk) == 5
    assert shown(q="另一家") == 5
    assert shown(kind="traffic") == 5
    assert shown(start=d(-3).isoformat(), end=d(-1).isoformat()) == 3
    assert shown(kind="nonsense", start="2026-02-31") == 10  # invalid filters are ignored


def test_the_main_account_sees_its_own_organizations_rows_only(client, world):
    other = _log_some(world, 6)
    client.force_login(world["main"])
    body = client.get(reverse("grants:access_log")).content.decode()
    assert body.count("日志达人") >= 3
    client.force_login(other.main_account)
    assert client.get(reverse("grants:access_log")).status_code == 200
    assert AccessLogEntry.objects.for_organization(other).count() == 3
    for user in (SubAccountFactory(organization=world["shop"]),):
        client.force_login(user)
        assert client.get(reverse("grants:access_log")).status_code == 403
        assert client.get(reverse("grants:access_log_csv")).status_code == 403


def test_another_creator_sees_nothing_of_this_creators_log(client, world):
    _log_some(world, 4)
    client.force_login(CreatorFactory().user)
    body = client.get(reverse("grants:access_log")).content.decode()
    assert "看数据的店" not in body
    assert "另一家店" not in body
    export = b"".join(client.get(reverse("grants:access_log_csv")).streaming_content).decode("utf-8-sig")
    assert export.count("\n") == 1  # the header only


def test_the_log_csv_has_the_pages_rows_and_filters(client, world, django_assert_num_queries):
    _log_some(world, 8)
    client.force_login(world["creator"].user)
    with django_assert_num_queries(3):  # session, user, the rows
        response = client.get(reverse("grants:access_log_csv"), {"kind": "traffic"})
        body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    assert len(body.strip().splitlines()) == 1 + 4
    assert "第一场" in body


# --- retention ----------------------------------------------------------------------------------------


def test_purge_keeps_180_days_and_deletes_older(world):
    for age in (0, 180, 181, 400):
        access_log.upsert_view(
            viewer_id=world["main"].pk, creator_id=world["creator"].pk, organization_id=world["shop"].pk,
            page="overview", livestream_id=None, at=at_shanghai(d(-age)), day=d(-age), grant_id=None,
            livestream_request_id=None,
        )  # fmt: skip
    call_command("purge_access_log")
    assert sorted(e.day for e in rows()) == [d(-180), d(0)]


def test_the_worker_runs_the_purge_daily(world, settings):
    """The scheduled worker's periodic jobs (notifications.schedule) include the purge, daily."""
    import datetime

    from notifications import schedule

    assert schedule.jobs()["purge_access_log"] == ("purge_access_log", datetime.timedelta(days=1))
    access_log.upsert_view(
        viewer_id=world["main"].pk, creator_id=world["creator"].pk, organization_id=world["shop"].pk,
        page="overview", livestream_id=None, at=at_shanghai(d(-200)), day=d(-200), grant_id=None,
        livestream_request_id=None,
    )  # fmt: skip
    call_command(schedule.jobs()["purge_access_log"][0])
    assert rows() == []


# --- idle grants (闲置) ---------------------------------------------------------------------------------


def _view_under(grant, day):
    access_log.upsert_view(
        viewer_id=grant.organization.main_account.pk, creator_id=grant.creator_id,
        organization_id=grant.organization_id, page="overview", livestream_id=None, at=at_shanghai(day), day=day,
        grant_id=grant.pk, livestream_request_id=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("starts", "viewed", "idle"),
    [
        (-13, None, True),  # active for exactly 14 days, nobody looked
        (-12, None, False),  # active for 13 days: not yet
        (-30, -13, False),  # a view on the first of the last 14 days
        (-30, -14, True),  # the last view just before them
        (-30, 0, False),  # a view today
    ],
)
def test_idle_boundaries(frozen_today, starts, viewed, idle):
    grant = GrantFactory(starts_on=d(starts), ends_on=d(30))
    if viewed is not None:
        _view_under(grant, d(viewed))
    assert Grant.objects.idle().filter(pk=grant.pk).exists() is idle
    assert Grant.objects.with_idle().get(pk=grant.pk).is_idle is idle


def test_scheduled_expired_and_revoked_grants_are_never_idle(frozen_today):
    for grant in (
        GrantFactory(scheduled=True), GrantFactory(expired=True), GrantFactory(starts_on=d(-40), revoked=True),
    ):  # fmt: skip
        assert not Grant.objects.idle().filter(pk=grant.pk).exists()


def test_the_grant_list_badges_and_filters_idle_grants_with_a_fixed_query_count(
    client, frozen_today, django_assert_num_queries
):
    creator = CreatorFactory()
    idle = [GrantFactory(creator=creator, starts_on=d(-20)) for _ in range(3)]
    used = GrantFactory(creator=creator, starts_on=d(-20))
    _view_under(used, d(-2))
    client.force_login(creator.user)
    with django_assert_num_queries(4):
        body = client.get(reverse("grants:creator_grants")).content.decode()
    assert body.count('class="badge badge-idle"') == 3
    with django_assert_num_queries(4):
        body = client.get(reverse("grants:creator_grants"), {"status": "idle"}).content.decode()
    assert all(g.organization.name in body for g in idle)
    assert used.organization.name not in body


def test_recording_a_view_keeps_the_viewer_on_the_replica(world):
    """The log's write goes to the primary without the router: it neither pins the request nor
    makes the viewer sticky to the primary (the replica tests in tests/replicas/ show the pages)."""
    from portal import replicas

    state = replicas.RequestState()
    token = replicas._state.set(state)
    try:
        access_log.upsert_view(
            viewer_id=world["main"].pk, creator_id=world["creator"].pk, organization_id=world["shop"].pk,
            page="overview", livestream_id=None, at=at_shanghai(TODAY), day=TODAY, grant_id=None,
            livestream_request_id=None,
        )  # fmt: skip
    finally:
        replicas._state.reset(token)
    assert (state.wrote, state.pinned) == (False, False)
    assert len(rows()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_upsert_commits_asynchronously_only_in_a_transaction_of_its_own(frozen_today):
    """On PostgreSQL the statement sets ``synchronous_commit`` off for its own transaction; inside a
    caller's transaction it does not, so that the caller's commit stays synchronous."""
    from django.db import connection, transaction

    creator, shop = CreatorFactory(), ShopFactory()
    kwargs = dict(
        viewer_id=shop.main_account.pk, creator_id=creator.pk, organization_id=shop.pk, page="overview",
        livestream_id=None, at=at_shanghai(TODAY), day=TODAY, grant_id=None, livestream_request_id=None,
    )  # fmt: skip
    with transaction.atomic():
        access_log.upsert_view(**kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"
    access_log.upsert_view(**kwargs)  # autocommit: its own transaction
    assert [e.views for e in rows()] == [2]


def test_the_livestream_pages_statement_stays_parsed_once(db):
    """A member's livestream page reads the livestream, decides and records in one statement
    (``speedups.livestream_row_access_recorded``). psycopg keeps the parsed form of a statement of
    at most MAX_CACHED_STATEMENT_LENGTH characters and parses a longer one again on every execution:
    the statement must stay under it (a field added to the livestream or the creator lengthens it)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the statement exists on PostgreSQL only")
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    from grants import speedups
    from livestreams.speedups import LIVESTREAM_WITH_CREATOR

    statement = speedups.livestream_row_access_recorded(LIVESTREAM_WITH_CREATOR)
    for query in statement.statements.values():
        assert len(query.sql(access_log.DATABASE)) <= MAX_CACHED_STATEMENT_LENGTH
