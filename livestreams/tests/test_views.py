"""Livestream pages: cooperation gates the detail page, requests unlock the modules, 404/403."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory
from grants.models import LivestreamAccessEvent, LivestreamAccessRequest
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Cooperation
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory
from portal.pagination import KEYS_FIRST_FROM, PER_PAGE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
D10 = Decimal("10.00")
MODULES = ["livestreams:big_screen", "livestreams:traffic", "livestreams:audience"]


@pytest.fixture
def world():
    creator = CreatorFactory(name="测试达人")
    shop, rival = ShopFactory(name="本店"), ShopFactory(name="别家店")
    stream = LivestreamFactory(creator=creator, cooperating=[shop, rival], minutes=30, title="直播甲")
    return {
        "creator": creator,
        "shop": shop,
        "rival": rival,
        "stream": stream,
        "staff": SubAccountFactory(organization=shop),
        "outsider": ShopFactory(name="路人店"),
    }


def url(name, stream):
    return reverse(name, args=[stream.pk])


def test_org_list_shows_cooperated_livestreams_with_own_gmv(client, world):
    other = LivestreamFactory(creator=world["creator"], cooperating=[world["rival"]], minutes=0, title="与本店无关")
    client.force_login(world["staff"])
    html = client.get(reverse("livestreams:org_livestreams")).content.decode()
    assert "直播甲" in html
    assert "与本店无关" not in html
    own = world["stream"].cooperations.get(organization=world["shop"])
    assert own.gmv != world["stream"].gmv  # the rival sold too
    assert other.pk


@pytest.mark.parametrize("count", [2, 25])
def test_org_list_query_count_is_fixed(client, world, django_assert_num_queries, count):
    for _ in range(count):
        LivestreamFactory(creator=world["creator"], cooperating=[world["shop"]], minutes=0)
    client.force_login(world["shop"].main_account)
    # session, user (with the bell), cooperations page (with livestream and creator), open requests,
    # full grants
    with django_assert_num_queries(5):
        assert client.get(reverse("livestreams:org_livestreams")).status_code == 200
    client.force_login(world["staff"])
    with django_assert_num_queries(5):  # a sub-account: its delegated creators instead of full grants
        assert client.get(reverse("livestreams:org_livestreams")).status_code == 200


def test_org_list_deep_page_is_the_plain_page_keyed_by_livestream(client, world, django_assert_num_queries):
    """From ``KEYS_FIRST_FROM`` on the page reads its keys first, by livestream (in the list's
    index, unlike the cooperation's id): the same rows, in the same order, as the plain list."""
    # Ties on the start time (three at each), broken by the livestream, descending.
    started = timezone.now() - datetime.timedelta(days=3)
    for i in range(KEYS_FIRST_FROM + 2 * PER_PAGE):
        at = started - datetime.timedelta(hours=i // 3)
        LivestreamFactory(creator=world["creator"], cooperating=[world["shop"]], minutes=0, started_at=at)
    plain = list(
        Cooperation.objects.for_organization(world["shop"]).newest_first().values_list("livestream_id", flat=True)
    )
    client.force_login(world["shop"].main_account)
    number = KEYS_FIRST_FROM // PER_PAGE + 1
    with CaptureQueriesContext(connection) as queries, django_assert_num_queries(5):
        response = client.get(reverse("livestreams:org_livestreams"), {"page": number})
    shown = [c.livestream_id for c in response.context["page"]]
    start = (number - 1) * PER_PAGE
    assert shown == plain[start : start + PER_PAGE]
    if connection.vendor == "postgresql":
        assert any(
            '"livestreams_cooperation"."livestream_id" = ANY(ARRAY(' in q["sql"] for q in queries.captured_queries
        )


def test_org_list_marks_livestreams_opened_by_a_full_grant(client, world):
    GrantFactory(creator=world["creator"], organization=world["shop"])
    client.force_login(world["shop"].main_account)
    assert "全部数据已授权" in client.get(reverse("livestreams:org_livestreams")).content.decode()
    client.force_login(world["staff"])
    assert "全部数据已授权" not in client.get(reverse("livestreams:org_livestreams")).content.decode()


def _products(stream, **by_org):
    writes.replace_products(
        livestream=stream,
        products=[
            {"organization": org, "sku": sku, "name": f"商品{sku}", "price": D10, "units": 1, "orders": 1, "gmv": D10}
            for org, skus in by_org.values()
            for sku in skus
        ],
    )


def test_detail_shows_only_own_products_to_a_cooperating_member(client, world):
    stream = world["stream"]
    _products(stream, own=(world["shop"], ["OWN-1", "OWN-2"]), rival=(world["rival"], ["RIVAL-1"]))
    client.force_login(world["staff"])
    html = client.get(url("livestreams:detail", stream)).content.decode()
    assert "OWN-1" in html
    assert "OWN-2" in html
    assert "RIVAL-1" not in html
    assert "解锁更多数据" in html
    for name in MODULES:
        assert url(name, stream) not in html


def test_creator_sees_all_products_and_module_links(client, world):
    _products(world["stream"], own=(world["shop"], ["OWN-1"]), rival=(world["rival"], ["RIVAL-1"]))
    client.force_login(world["creator"].user)
    html = client.get(url("livestreams:detail", world["stream"])).content.decode()
    assert "OWN-1" in html
    assert "RIVAL-1" in html
    for name in MODULES:
        assert url(name, world["stream"]) in html
    assert "解锁更多数据" not in html


@pytest.mark.parametrize("name", ["livestreams:detail", "livestreams:unlock", *MODULES])
def test_non_cooperating_organization_gets_404_like_a_missing_livestream(client, world, name):
    for user in (
        world["outsider"].main_account,
        SubAccountFactory(organization=world["outsider"]),
        CreatorFactory().user,
    ):
        client.force_login(user)
        assert client.get(url(name, world["stream"])).status_code == 404
        assert client.get(reverse(name, args=[world["stream"].pk + 999])).status_code == 404
    assert LivestreamAccessRequest.objects.count() == 0


@pytest.mark.parametrize("name", MODULES)
def test_cooperating_without_access_gets_403_on_modules_and_no_data(client, world, name):
    client.force_login(world["staff"])
    response = client.get(url(name, world["stream"]))
    assert response.status_code == 403
    assert world["stream"].title not in response.content.decode()


def test_confirm_dialog_creates_nothing_and_only_confirm_requests(client, world):
    client.force_login(world["staff"])
    dialog = client.get(url("livestreams:unlock", world["stream"]), **HTMX)
    assert dialog.status_code == 200
    assert "确认" in dialog.content.decode()
    assert "<html" not in dialog.content.decode()
    page = client.get(url("livestreams:unlock", world["stream"]))
    assert "<html" in page.content.decode()
    assert LivestreamAccessRequest.objects.count() == 0
    response = client.post(url("livestreams:unlock", world["stream"]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="unlock-state" hx-swap-oob="true"' in html
    assert "已申请，待达人审批" in html
    assert "close-dialog" in response.headers["HX-Trigger"]
    assert LivestreamAccessRequest.objects.count() == 1
    client.post(url("livestreams:unlock", world["stream"]))  # again: the pending one stands
    assert LivestreamAccessRequest.objects.count() == 1
    assert LivestreamAccessEvent.objects.count() == 1
    detail = client.get(url("livestreams:detail", world["stream"])).content.decode()
    assert "已申请，待达人审批" in detail


def test_plain_post_redirects_to_detail(client, world):
    client.force_login(world["shop"].main_account)
    response = client.post(url("livestreams:unlock", world["stream"]))
    assert response.status_code == 302
    assert response.url == url("livestreams:detail", world["stream"])


def test_sub_account_sees_modules_after_approval_and_loses_them_at_once(client, world):
    stream = world["stream"]
    access_request = services.request_livestream_access(livestream=stream, actor=world["staff"])
    client.force_login(world["staff"])
    services.approve_livestream_request(request=access_request, actor=world["creator"].user)
    for name in MODULES:
        assert client.get(url(name, stream)).status_code == 200
    # Nothing to unlock: the service's own refusal, with its message, and no second request.
    refused = client.post(url("livestreams:unlock", stream))
    assert refused.status_code == 422
    assert "该直播间数据已授权，无需再次申请。" in refused.content.decode()
    assert LivestreamAccessRequest.objects.count() == 1
    services.revoke_livestream_access(request=access_request, actor=world["creator"].user)
    for name in MODULES:
        assert client.get(url(name, stream)).status_code == 403
    assert "解锁更多数据" in client.get(url("livestreams:detail", stream)).content.decode()


def test_main_account_with_active_full_grant_sees_modules_of_any_livestream_of_the_creator(client, world):
    agency = AgencyFactory()
    GrantFactory(creator=world["creator"], organization=agency)
    client.force_login(agency.main_account)
    for name in ["livestreams:detail", *MODULES]:
        assert client.get(url(name, world["stream"])).status_code == 200
    client.force_login(SubAccountFactory(organization=agency))
    assert client.get(url("livestreams:detail", world["stream"])).status_code == 404


@pytest.mark.parametrize("minutes", [5, 300])
@pytest.mark.parametrize(
    ("name", "cold", "warm"),
    [("livestreams:big_screen", 6, 4), ("livestreams:traffic", 5, 4), ("livestreams:audience", 5, 4)],
)
def test_module_pages_have_a_fixed_query_count(client, django_assert_num_queries, minutes, name, cold, warm):
    creator = CreatorFactory()
    stream = LivestreamFactory(creator=creator, minutes=minutes, duration=max(minutes, 60))  # ended
    client.force_login(creator.user)
    cache.clear()
    # Cold: session, user, livestream (the creator's own: access needs no query), the module's own
    # data (minutes + ranking, or one join), the nav badges with the bell.
    with django_assert_num_queries(cold):
        assert client.get(url(name, stream)).status_code == 200
    # Warm (the ended livestream's module content cached): session, user, livestream, badges.
    with django_assert_num_queries(warm):
        assert client.get(url(name, stream)).status_code == 200


@pytest.mark.parametrize("name", MODULES)
def test_a_members_module_page_is_three_statements_on_postgresql(client, world, django_assert_num_queries, name):
    """A main account with a full-data grant, an ended livestream, its page kept: the session, the
    user (with the bell), and one statement that reads the livestream, decides and records the view
    (PostgreSQL; elsewhere the livestream, the decision and the record are three)."""
    from django.db import connection

    GrantFactory(creator=world["creator"], organization=world["shop"])
    client.force_login(world["shop"].main_account)
    cache.clear()
    assert client.get(url(name, world["stream"])).status_code == 200
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 5):
        assert client.get(url(name, world["stream"])).status_code == 200


def test_big_screen_polls_while_live_and_stops_when_ended(client):
    creator = CreatorFactory()
    stream = LivestreamFactory(creator=creator, live=True)
    client.force_login(creator.user)
    page = client.get(url("livestreams:big_screen", stream)).content.decode()
    assert 'hx-trigger="every 5s"' in page
    poll = {"HTTP_HX_TARGET": "big-screen-live", **HTMX}
    response = client.get(url("livestreams:big_screen", stream), **poll)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    writes.update_live_figures(livestream=stream, ended_at=timezone.now())
    response = client.get(url("livestreams:big_screen", stream), **poll)
    assert response.status_code == 286
    assert 'hx-trigger="every 5s"' not in response.content.decode()


def test_big_screen_shows_new_minutes_on_the_next_poll(client):
    creator = CreatorFactory()
    stream = LivestreamFactory(creator=creator, live=True, minutes=3)
    client.force_login(creator.user)
    poll = {"HTTP_HX_TARGET": "big-screen-live", **HTMX}
    writes.add_minutes(livestream=stream, minutes=[(timezone.now() - datetime.timedelta(seconds=1), 987654, 10, 0, 0)])
    html = client.get(url("livestreams:big_screen", stream), **poll).content.decode()
    assert "98.8万" in html


def test_unlock_requires_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["staff"])
    assert client.post(url("livestreams:unlock", world["stream"])).status_code == 403
    assert LivestreamAccessRequest.objects.count() == 0


def test_refused_htmx_poll_reloads_the_page(client, world):
    access_request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    services.approve_livestream_request(request=access_request, actor=world["creator"].user)
    client.force_login(world["staff"])
    poll = {"HTTP_HX_TARGET": "big-screen-live", **HTMX}
    assert client.get(url("livestreams:big_screen", world["stream"]), **poll).status_code == 286  # ended: stop
    services.revoke_livestream_access(request=access_request, actor=world["creator"].user)
    response = client.get(url("livestreams:big_screen", world["stream"]), **poll)
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(url("livestreams:big_screen", world["stream"])).headers
