"""The creator roll-ups always equal a direct aggregate of the livestreams and their products,
whatever writer wrote them (``livestreams.writes``): the factory's upsert, the importer (create and
upsert, moving a livestream to another day or creator), replace_products, update_live_figures,
move_livestream, delete_livestreams; and ``rollup``'s own refresh, rebuild and staleness checks.
That is the daily totals (CreatorDay), the products and shops per day and their two-year ceilings
(``assert_consistent()`` checks all of them after every write). The overview reads them
(``speedups``; compared on random data in test_speedups.py)."""

import datetime
import json
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grants import services
from livestreams import rollup, speedups, writes
from livestreams.factories import LivestreamFactory
from livestreams.importer import import_lines
from livestreams.management.commands import make_sample_livestreams as sample
from livestreams.models import (
    CreatorDay,
    CreatorProductBound,
    CreatorProductDay,
    CreatorShopBound,
    CreatorShopDay,
    Livestream,
    ProductSale,
    local_day,
)
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year, month, day, hour, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def direct() -> dict:
    """The roll-up as it should be: the livestreams grouped by creator and start day (Shanghai)."""
    rows = (
        Livestream.objects.annotate(day=TruncDate("started_at", tzinfo=SHANGHAI))
        .order_by()
        .values("creator_id", "day")
        .annotate(n=Count("pk"), gmv=Sum("gmv"), orders=Sum("orders"), units=Sum("units"), viewers=Sum("viewers"))
    )
    return {
        (r["creator_id"], r["day"]): (r["n"], Decimal(r["gmv"]), r["orders"], r["units"], r["viewers"]) for r in rows
    }


def rolled_up() -> dict:
    return {
        (r.creator_id, r.day): (r.livestreams, Decimal(r.gmv), r.orders, r.units, r.viewers)
        for r in CreatorDay.objects.all()
    }


def assert_consistent():
    expected = direct()
    assert expected, "nothing to compare"
    assert rolled_up() == expected
    for sales in rollup.SALES:
        assert rollup.stale_sales(sales) == (set(), set())


def products(shop, gmv="10.00", units=1, sku="SKU-1"):
    return [{"organization": shop, "sku": sku, "name": "n", "price": Decimal("1.00"), "units": units,
             "orders": units, "gmv": Decimal(gmv)}]  # fmt: skip


# --- writers -------------------------------------------------------------------------------------


def test_factory_and_replace_products_keep_it(django_db_blocker):
    creator, other = CreatorFactory(), CreatorFactory()
    shop = ShopFactory()
    LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 22, 23, 30), duration=120)
    LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 22, 8), minutes=0)
    stream = LivestreamFactory(creator=other, cooperating=[shop, ShopFactory()], minutes=0)
    assert_consistent()
    writes.replace_products(livestream=stream, products=products(shop, "123.45", 7))
    assert_consistent()
    writes.replace_products(livestream=stream, products=[])
    assert_consistent()
    # The stream crossing midnight counts on its start date, both of 11-22's streams on one row.
    assert CreatorDay.objects.get(creator=creator, day=datetime.date(2026, 11, 22)).livestreams == 2
    assert not CreatorDay.objects.filter(creator=creator, day=datetime.date(2026, 11, 23)).exists()


def test_moving_a_livestream_to_another_day_or_creator_refreshes_both():
    creator, other, shop = CreatorFactory(), CreatorFactory(), ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 9), minutes=0)
    writes.upsert_livestream(
        external_id=stream.external_id, creator=creator, title="t", started_at=at(2026, 11, 2, 0, 0), ended_at=None,
        totals={"viewers": 5, "peak_online": 1, "avg_watch_seconds": 1, "new_followers": 0},
        products=products(shop, "9.99", 3),
    )  # fmt: skip
    assert_consistent()
    writes.move_livestream(livestream=stream, creator=other)
    assert_consistent()
    assert not CreatorDay.objects.filter(creator=creator, day=datetime.date(2026, 11, 2)).exists()
    writes.update_live_figures(livestream=stream, totals={"viewers": 42})
    assert_consistent()
    assert CreatorDay.objects.get(creator=other, day=datetime.date(2026, 11, 2)).viewers == 42


def test_deleting_keeps_it():
    creator, shop = CreatorFactory(), ShopFactory()
    streams = [
        LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, day, 20), minutes=0)
        for day in (1, 1, 2, 3)
    ]
    writes.delete_livestream(livestream=streams[2])
    assert_consistent()
    writes.delete_livestreams(ids=[streams[0].pk, streams[3].pk])
    assert_consistent()
    writes.delete_livestreams(ids=[streams[1].pk])
    assert not CreatorDay.objects.exists()


def test_a_write_around_the_writers_is_found_stale_and_repaired():
    """Nothing keeps the roll-up behind a caller's back: a bare QuerySet write leaves it stale, which
    ``stale_creator_days()`` finds and the one refresh repairs."""
    creator, shop = CreatorFactory(), ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 3, 20), minutes=0)
    assert rollup.stale_creator_days() == set()
    Livestream.objects.filter(pk=stream.pk).update(started_at=at(2026, 11, 2, 20), ended_at=None, viewers=1)
    stale = rollup.stale_creator_days()
    assert stale == {(creator.pk, datetime.date(2026, 11, 1)), (creator.pk, datetime.date(2026, 11, 2))}
    rollup.refresh_creator_days(stale)
    assert_consistent()
    CreatorDay.objects.all().delete()
    assert rollup.rebuild_creator_days() == 2
    assert_consistent()


def _sample_file(tmp_path, records):
    path = tmp_path / "import.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def import_parties():
    for code in sample.SHOPS:
        ShopFactory(code=code)
    return [CreatorFactory(douyin_id=f"dy_rollup_{n}") for n in range(2)]


def test_import_create_and_upsert_keep_it(import_parties):
    rng = random.Random(3)
    first, second = import_parties

    def record(external_id, creator, started_at):
        return sample.sample_record(rng, external_id=external_id, creator=creator.douyin_id,
                                    started_at=started_at, count=5)  # fmt: skip

    lines = [
        record("r-1", first, at(2026, 11, 1, 23, 58)),  # crosses midnight: counts on 11-01
        record("r-2", first, at(2026, 11, 1, 10)),
        record("r-3", second, at(2026, 11, 2, 10)),
    ]
    result = import_lines([json.dumps(line) for line in lines])
    assert result.created == 3
    assert_consistent()
    # Re-import: r-1 moves to another day and another creator, r-3 changes its figures.
    lines = [record("r-1", second, at(2026, 11, 5, 9)), record("r-3", second, at(2026, 11, 2, 11))]
    result = import_lines([json.dumps(line) for line in lines])
    assert result.updated == 2
    assert_consistent()
    assert CreatorDay.objects.get(creator=first, day=datetime.date(2026, 11, 1)).livestreams == 1


def test_refresh_is_idempotent_and_repairs_a_stale_row():
    creator, shop = CreatorFactory(), ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    CreatorDay.objects.filter(creator=creator).update(livestreams=99, gmv=Decimal("0"))
    key = (creator.pk, local_day(stream.started_at))
    assert rollup.stale_creator_days() == {key}
    rollup.refresh_creator_days([key, key])
    assert_consistent()
    rollup.refresh_creator_days([(creator.pk, datetime.date(2026, 1, 1))])  # a day without livestreams: no row
    assert_consistent()


def sold(shop, sku, gmv, units=1, name="n"):
    return {"organization": shop, "sku": sku, "name": name, "price": Decimal("1.00"), "units": units,
            "orders": units, "gmv": Decimal(gmv)}  # fmt: skip


def test_sales_roll_ups_by_hand():
    """Per creator, start day and product (or shop): the products' sums, the largest name, and the
    livestreams it sold in, a shop's counted once per livestream however many of its products sold
    there; the ceilings sum the positive daily GMV of two calendar years."""
    creator, shop, other = CreatorFactory(), ShopFactory(), ShopFactory()
    day = datetime.date(2026, 1, 1)

    def stream(hour, products, started=None):
        return LivestreamFactory(creator=creator, cooperating=[], minutes=0,
                                 started_at=started or at(2026, 1, 1, hour))  # fmt: skip

    first = stream(9, [])
    writes.replace_products(livestream=first, products=[sold(shop, "A", "10.00", 2, "apple"), sold(shop, "B", "5.00")])
    second = stream(21, [])
    writes.replace_products(
        livestream=second, products=[sold(shop, "A", "1.50", 1, "banana"), sold(other, "A", "-2.00")]
    )
    late = stream(0, [], started=at(2025, 12, 31, 23, 59))  # the day before, in the previous year
    writes.replace_products(livestream=late, products=[sold(shop, "A", "7.00")])

    rows = {(r.day, r.organization_id, r.sku): (r.name, r.gmv, r.orders, r.units, r.livestreams)
            for r in CreatorProductDay.objects.filter(creator=creator)}  # fmt: skip
    assert rows == {
        (day, shop.pk, "A"): ("banana", Decimal("11.50"), 3, 3, 2),
        (day, shop.pk, "B"): ("n", Decimal("5.00"), 1, 1, 1),
        (day, other.pk, "A"): ("n", Decimal("-2.00"), 1, 1, 1),
        (day - datetime.timedelta(days=1), shop.pk, "A"): ("n", Decimal("7.00"), 1, 1, 1),
    }
    shops = {(r.day, r.organization_id): (r.gmv, r.units, r.livestreams)
             for r in CreatorShopDay.objects.filter(creator=creator)}  # fmt: skip
    assert shops == {
        (day, shop.pk): (Decimal("16.50"), 4, 2),  # three products, two livestreams
        (day, other.pk): (Decimal("-2.00"), 1, 1),
        (day - datetime.timedelta(days=1), shop.pk): (Decimal("7.00"), 1, 1),
    }
    bounds = {(r.year, r.organization_id, r.sku): r.gmv for r in CreatorProductBound.objects.filter(creator=creator)}
    assert bounds == {
        (2024, shop.pk, "A"): Decimal("7.00"),  # 2025's day: in the ceilings of 2024–2025 and 2025–2026
        (2025, shop.pk, "A"): Decimal("18.50"),
        (2026, shop.pk, "A"): Decimal("11.50"),
        (2025, shop.pk, "B"): Decimal("5.00"),
        (2026, shop.pk, "B"): Decimal("5.00"),
        (2025, other.pk, "A"): Decimal("0.00"),  # sold, at a loss: a row, no ceiling above zero
        (2026, other.pk, "A"): Decimal("0.00"),
    }
    assert {(r.year, r.organization_id): r.gmv for r in CreatorShopBound.objects.filter(creator=creator)} == {
        (2024, shop.pk): Decimal("7.00"),
        (2025, shop.pk): Decimal("23.50"),
        (2026, shop.pk): Decimal("16.50"),
        (2025, other.pk): Decimal("0.00"),
        (2026, other.pk): Decimal("0.00"),
    }
    assert_consistent()
    # Moving the late livestream to the next day: its old day's rows and the 2024 ceilings go.
    writes.upsert_livestream(
        external_id=late.external_id, creator=creator, title="t", started_at=at(2026, 1, 2, 0, 1), ended_at=None,
        totals={"viewers": 1, "peak_online": 1, "avg_watch_seconds": 1, "new_followers": 0},
        products=[sold(shop, "A", "7.00")],
    )  # fmt: skip
    assert_consistent()
    assert not CreatorProductBound.objects.filter(creator=creator, year=2024).exists()
    ceiling = CreatorProductBound.objects.get(creator=creator, year=2026, organization=shop, sku="A")
    assert ceiling.gmv == Decimal("18.50")
    writes.delete_livestreams(ids=[first.pk, second.pk, late.pk])
    assert not CreatorProductDay.objects.filter(creator=creator).exists()
    assert not CreatorShopBound.objects.filter(creator=creator).exists()


def test_sales_drift_is_found_and_repaired():
    """Rows changed around the writers: ``stale_sales()`` names the day and ceiling keys, and
    ``repair_sales()`` (and ``rebuild_creator_days()`` for the days) put them right."""
    creator, shop = CreatorFactory(), ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 3, 1, 20), minutes=0)
    day = datetime.date(2026, 3, 1)
    CreatorProductDay.objects.filter(creator=creator).update(units=999)
    CreatorShopBound.objects.filter(creator=creator, year=2025).update(gmv=Decimal("1.00"))
    CreatorProductBound.objects.create(creator=creator, year=2027, organization=shop, sku="ghost", gmv=1)
    assert rollup.stale_sales(rollup.PRODUCTS)[0] == {(creator.pk, day)}
    assert rollup.stale_sales(rollup.PRODUCTS)[1] == {(creator.pk, shop.pk, "ghost", 2027)}
    assert rollup.stale_sales(rollup.SHOPS) == (set(), {(creator.pk, shop.pk, 2025)})
    assert rollup.repair_sales() == {
        "creatorproductday": 1, "creatorproductbound": 1, "creatorshopday": 0, "creatorshopbound": 1,
    }  # fmt: skip
    assert_consistent()
    ProductSale.objects.filter(livestream=stream).update(gmv=Decimal("3.00"))  # around the writers
    assert rollup.stale_sales(rollup.SHOPS)[0] == {(creator.pk, day)}
    rollup.rebuild_creator_days()
    for sales in rollup.SALES:
        assert rollup.stale_sales(sales) == (set(), set())


# --- readers -------------------------------------------------------------------------------------


@pytest.fixture
def month():
    creator, shop = CreatorFactory(), ShopFactory()
    rng = random.Random(5)
    for n in range(40):
        day = datetime.date(2026, 10, 1) + datetime.timedelta(days=rng.randint(0, 60))
        stream = LivestreamFactory(
            creator=creator, cooperating=[], started_at=at(day.year, day.month, day.day, rng.randint(0, 23)),
            minutes=0, viewers=rng.randint(1, 9999),
        )  # fmt: skip
        writes.replace_products(
            livestream=stream,
            products=products(shop, f"{rng.randint(1, 99999) / 100:.2f}", rng.randint(1, 50), f"S{n}"),
        )
    LivestreamFactory(creator=CreatorFactory(), cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    return creator


def test_overview_figures_from_the_roll_up_equal_the_direct_aggregate(month):
    start, end = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
    plain = Livestream.objects.for_creator(month)
    assert speedups.creator_totals_with_previous(month, start, end) == plain.totals_with_previous(start, end)
    assert speedups.creator_daily(month, start, end) == plain.daily(start, end)
    assert speedups.creator_totals_with_previous(month, start, end)[0]["count"] > 0


def test_the_speedups_read_the_roll_up_and_the_plain_reads_the_livestreams(month):
    start, end = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
    for read, table in (
        (lambda: speedups.creator_totals_with_previous(month, start, end), "livestreams_creatorday"),
        (lambda: speedups.creator_daily(month, start, end), "livestreams_creatorday"),
        (lambda: Livestream.objects.for_creator(month).totals_with_previous(start, end), "livestreams_livestream"),
        (lambda: Livestream.objects.for_creator(month).daily(start, end), "livestreams_livestream"),
    ):
        with CaptureQueriesContext(connection) as queries:
            read()
        assert len(queries.captured_queries) == 1
        assert table in queries.captured_queries[0]["sql"]


def test_badge_is_capped_on_every_page(client, monkeypatch):
    """The navigation badge counts at most COUNT_CAP pending requests ("999+" style), everywhere."""
    import grants.speedups

    monkeypatch.setattr(grants.speedups, "COUNT_CAP", 3)
    creator = CreatorFactory()
    shops = [ShopFactory() for _ in range(4)]
    stream = LivestreamFactory(creator=creator, cooperating=shops, minutes=0)
    for shop in shops:
        services.request_livestream_access(livestream=stream, actor=shop.main_account)
    client.force_login(creator.user)
    html = client.get(reverse("livestreams:creator_overview", args=[creator.pk])).content.decode()
    assert ">2+</span>" in html


def test_the_overview_reads_its_top_lists_from_the_roll_ups(client, month):
    """No query of the overview reads the products: the top lists come from the sales roll-ups."""
    client.force_login(month.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            reverse("livestreams:creator_overview", args=[month.pk]), {"start": "2026-10-01", "end": "2026-11-30"}
        )
    assert response.status_code == 200
    assert response.context["top_products"]
    assert response.context["top_shops"]
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "livestreams_productsale" not in sql
    assert "livestreams_creatorproductday" in sql
    assert "livestreams_creatorshopday" in sql
