"""A creator's full sales data: figures against hand-computed values, ranges at their edges, CSV,
the access matrix, and fixed query counts."""

import csv
import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants import services
from grants.factories import GrantFactory
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from livestreams.ranges import DateRange, parse_range
from portal.exports import FORMULA_STARTS
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2026, 11, 28)


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def d(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(at(TODAY, 12), tick=False) as traveller:
        yield traveller


def stream(creator, shop, started_at, gmv, orders, units, viewers, *, minutes=0, sku="SKU-1", duration=60):
    livestream = LivestreamFactory(
        creator=creator, cooperating=[], started_at=started_at, viewers=viewers, minutes=minutes, duration=duration
    )
    writes.replace_products(
        livestream=livestream,
        products=[
            {
                "organization": shop,
                "sku": sku,
                "name": f"商品{sku}",
                "price": Decimal("1.00"),
                "units": units,
                "orders": orders,
                "gmv": Decimal(gmv),
            }
        ],  # fmt: skip
    )
    return livestream


@pytest.fixture
def data():
    """Last 7 days = 11-22..11-28; the 7 days before = 11-15..11-21."""
    creator, shop, other = CreatorFactory(), ShopFactory(name="甲店"), ShopFactory(name="乙店")
    streams = {
        # crosses midnight Shanghai: starts 11-22 23:30, ends 11-23 01:30 — counts on 11-22
        "midnight": stream(creator, shop, at(d(-6), 23, 30), "100.00", 10, 12, 1000, duration=120),
        "today": stream(creator, other, at(d(0), 0, 0), "250.50", 5, 6, 3000, sku="SKU-2"),
        "first_day_prev": stream(creator, shop, at(d(-13), 0, 0), "50.00", 2, 2, 500),
        "last_day_prev": stream(creator, shop, at(d(-7), 23, 59), "150.00", 3, 3, 1500),
        "too_old": stream(creator, shop, at(d(-14), 23, 59), "999.00", 9, 9, 9999),
        "other_creator": stream(CreatorFactory(), shop, at(d(-1), 20), "777.00", 7, 7, 7777),
    }
    return {"creator": creator, "shop": shop, "other": other, **streams}


def test_totals_and_previous_period_by_hand(data):
    current, previous = Livestream.objects.for_creator(data["creator"]).totals_with_previous(d(-6), d(0))
    assert current == {
        "count": 2, "gmv": Decimal("350.50"), "orders": 15, "units": 18, "viewers": 4000, "avg_viewers": 2000,
    }  # fmt: skip
    assert previous == {
        "count": 2, "gmv": Decimal("200.00"), "orders": 5, "units": 5, "viewers": 2000, "avg_viewers": 1000,
    }  # fmt: skip


def test_daily_series_counts_a_livestream_on_its_start_date(data):
    days = Livestream.objects.for_creator(data["creator"]).daily(d(-6), d(0))
    assert [row["day"] for row in days] == [d(i) for i in range(-6, 1)]
    by_day = {row["day"]: row for row in days}
    assert by_day[d(-6)]["gmv"] == Decimal("100.00")
    assert by_day[d(-6)]["count"] == 1
    assert by_day[d(-5)]["gmv"] == 0  # the midnight stream's end day
    assert by_day[d(0)]["orders"] == 5


def test_overview_page_figures_and_deltas(client, data):
    client.force_login(data["creator"].user)
    html = client.get(
        reverse("livestreams:creator_overview", args=[data["creator"].pk]), {"range": "7"}
    ).content.decode()
    assert "¥350.50" in html  # GMV
    assert "↑75.3%" in html  # (350.50 - 200) / 200
    assert "↑200.0%" in html  # orders 15 vs 5
    assert "2026-11-22 ~ 2026-11-28" in html
    assert "商品SKU-2" in html
    assert "乙店" in html
    assert "甲店" in html
    assert "¥777" not in html  # another creator's livestream


def test_zero_previous_period_shows_no_delta(client):
    creator = CreatorFactory()
    stream(creator, ShopFactory(), at(d(0), 10), "10.00", 1, 1, 10)
    client.force_login(creator.user)
    html = client.get(reverse("livestreams:creator_overview", args=[creator.pk]), {"range": "7"}).content.decode()
    assert "较上期 —" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-10", "end": "2026-11-01"}, "结束日期不能早于开始日期"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "日期范围最长为 366 天"),
        ({"start": "2026-13-45", "end": "2026-11-01"}, "请输入有效的日期"),
        ({"start": "garbage", "end": ""}, "请输入有效的日期"),
        ({"start": "2026-11-01"}, "需要同时填写开始日期和结束日期"),
        ({"range": "9999"}, "Select a valid choice"),
    ],
)
def test_bad_ranges_give_a_message_not_a_500(client, data, params, message):
    client.force_login(data["creator"].user)
    for name in ("livestreams:creator_overview", "livestreams:creator_livestreams"):
        response = client.get(reverse(name, args=[data["creator"].pk]), params)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'class="form-errors"' in html
        assert message in html or "有效的选项" in html or "选择" in html


def test_range_edges():
    assert parse_range({"start": "2026-01-01", "end": "2026-12-31"}, TODAY)[0].days == 365
    leap = parse_range({"start": "2024-01-01", "end": "2024-12-31"}, TODAY)
    assert leap[0].days == 366
    assert leap[1].is_valid()
    too_long = parse_range({"start": "2023-12-31", "end": "2024-12-31"}, TODAY)
    assert not too_long[1].is_valid()
    same_day = parse_range({"start": "2026-11-28", "end": "2026-11-28"}, TODAY)[0]
    assert same_day.days == 1
    assert same_day.previous == DateRange(d(-1), d(-1))
    assert parse_range({}, TODAY)[0] == DateRange(d(-29), d(0), "30")
    assert parse_range({"range": "7"}, TODAY)[0] == DateRange(d(-6), d(0), "7")


def test_livestream_list_sorts_and_links(client, data):
    client.force_login(data["creator"].user)
    url = reverse("livestreams:creator_livestreams", args=[data["creator"].pk])
    html = client.get(url, {"range": "30", "sort": "gmv"}).content.decode()
    positions = [
        html.index(reverse("livestreams:detail", args=[data[k].pk]) + '"')
        for k in ("too_old", "today", "last_day_prev")
    ]
    assert positions == sorted(positions)  # 999 > 250.50 > 150
    html = client.get(url, {"range": "30", "sort": "started_at"}).content.decode()
    assert html.index(f'/livestreams/{data["today"].pk}/"') < html.index(f'/livestreams/{data["midnight"].pk}/"')
    assert client.get(url, {"sort": "bogus; drop table"}).status_code == 200


def test_csv_export(client, data):
    client.force_login(data["creator"].user)
    response = client.get(reverse("livestreams:creator_export", args=[data["creator"].pk]), {"range": "7"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="livestreams-{data["creator"].pk}-20261122-20261128.csv"'
    )
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["开播时间", "下播时间", "标题", "成交金额"]
    assert [row[0] for row in rows[1:]] == ["2026-11-22 23:30", "2026-11-28 00:00"]
    assert rows[1][1] == "2026-11-23 01:30"
    assert rows[1][3] == "100.00"
    assert rows[2][2] == data["today"].title


@given(first=st.sampled_from(FORMULA_STARTS), rest=st.text(min_size=1, max_size=20))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_export_writes_formula_titles_as_text(client, data, first, rest):
    """A title from an import such as ``=HYPERLINK(...)`` must not become a live formula."""
    title = (first + rest.replace("\x00", ""))[:200]
    Livestream.objects.filter(pk=data["today"].pk).update(title=title)  # a test fixture's title; no derived data
    client.force_login(data["creator"].user)
    response = client.get(reverse("livestreams:creator_export", args=[data["creator"].pk]), {"range": "7"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    titles = [row[2] for row in rows[1:]]
    assert "'" + title.replace("\r\n", "\n") in titles or "'" + title in titles
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)


@pytest.fixture
def matrix():
    creator = CreatorFactory()
    active = GrantFactory(creator=creator, organization=ShopFactory())
    expired = GrantFactory(creator=creator, organization=ShopFactory(), expired=True)
    revoked = GrantFactory(creator=creator, organization=AgencyFactory())
    services.revoke(grant=revoked, actor=creator.user)
    stream(creator, active.organization, at(d(-1), 20), "123.45", 1, 1, 1)
    return {
        "creator": creator,
        "allowed": [creator.user, active.organization.main_account],
        "denied": [
            expired.organization.main_account,
            revoked.organization.main_account,
            SubAccountFactory(organization=active.organization),
            CreatorFactory().user,
            ShopFactory().main_account,
        ],
    }


@pytest.mark.parametrize("name", ["creator_overview", "creator_livestreams", "creator_export"])
def test_access_matrix(client, matrix, name):
    url = reverse(f"livestreams:{name}", args=[matrix["creator"].pk])
    for user in matrix["allowed"]:
        client.force_login(user)
        assert client.get(url).status_code == 200, user
    for user in matrix["denied"]:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 404, user
        assert b"123.45" not in response.content
    client.logout()
    assert client.get(url).status_code == 302
    client.force_login(matrix["allowed"][1])
    assert client.get(reverse(f"livestreams:{name}", args=[matrix["creator"].pk + 999])).status_code == 404


@pytest.mark.parametrize("count", [5, 60])
@pytest.mark.parametrize("name", ["creator_overview", "creator_livestreams"])
def test_query_counts_do_not_grow_with_livestreams(client, django_assert_num_queries, count, name):
    creator, shop = CreatorFactory(), ShopFactory()
    for i in range(count):
        stream(creator, shop, at(d(-(i % 30)), 20, i % 60), "10.00", 1, 1, 1)
    client.force_login(creator.user)
    # overview: session, user, totals, daily, top products, top shops, badges (with the bell); list:
    # session, user, page, badges
    expected = 7 if name == "creator_overview" else 4
    with django_assert_num_queries(expected):
        assert client.get(reverse(f"livestreams:{name}", args=[creator.pk]), {"range": "30"}).status_code == 200


def test_main_account_query_count_in_perspective(client, django_assert_num_queries):
    grant = GrantFactory()
    client.force_login(grant.organization.main_account)
    url = reverse("livestreams:creator_overview", args=[grant.creator.pk])
    client.get(url)  # enters the perspective
    # session, user (with the bell), perspective re-check, 4 aggregates (the switcher's menu is
    # fetched when opened), the data-access log's upsert
    with django_assert_num_queries(8):
        assert client.get(url).status_code == 200


def test_links_keep_the_range(client, data):
    client.force_login(data["creator"].user)
    html = client.get(
        reverse("livestreams:creator_overview", args=[data["creator"].pk]), {"start": "2026-11-01", "end": "2026-11-15"}
    ).content.decode()
    list_url = reverse("livestreams:creator_livestreams", args=[data["creator"].pk])
    assert f'href="{list_url}?start=2026-11-01&amp;end=2026-11-15"' in html
    assert "?range=7" in html
