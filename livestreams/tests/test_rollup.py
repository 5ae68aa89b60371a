"""The creator roll-up (CreatorDay) always equals a direct aggregate of the livestreams, whatever
wrote them: the factory, the importer (create and upsert, moving a livestream to another day or
creator), replace_products, the QuerySet's update/delete/bulk_create/bulk_update, Model.delete.
And the overview's figures read from it are the direct aggregate's."""

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

from grants.models import LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from livestreams.importer import import_lines
from livestreams.management.commands import make_sample_livestreams as sample
from livestreams.models import CreatorDay, Livestream, local_day, refresh_creator_days
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
    stream.replace_products(products(shop, "123.45", 7))
    assert_consistent()
    stream.replace_products([])
    assert_consistent()
    # The stream crossing midnight counts on its start date, both of 11-22's streams on one row.
    assert CreatorDay.objects.get(creator=creator, day=datetime.date(2026, 11, 22)).livestreams == 2
    assert not CreatorDay.objects.filter(creator=creator, day=datetime.date(2026, 11, 23)).exists()


def test_save_moving_a_livestream_refreshes_both_days_and_creators():
    creator, other, shop = CreatorFactory(), CreatorFactory(), ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, 9), minutes=0)
    stream.started_at = at(2026, 11, 2, 0, 0)
    stream.ended_at = None
    stream.save()
    assert_consistent()
    fresh = Livestream.objects.get(pk=stream.pk)  # as loaded: what the roll-up counts is known
    fresh.creator = other
    fresh.viewers += 5
    fresh.save(update_fields=["creator", "viewers"])
    assert_consistent()
    assert not CreatorDay.objects.filter(creator=creator, day=datetime.date(2026, 11, 2)).exists()
    bare = Livestream.objects.only("pk", "title").get(pk=stream.pk)  # not known: read before saving
    bare.title = "renamed"
    bare.save(update_fields=["title"])
    bare.started_at = at(2026, 10, 30, 12)
    bare.save(update_fields=["started_at"])
    assert_consistent()


def test_queryset_update_delete_and_model_delete_keep_it():
    creator, shop = CreatorFactory(), ShopFactory()
    streams = [
        LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, day, 20), minutes=0)
        for day in (1, 1, 2, 3)
    ]
    Livestream.objects.filter(pk=streams[0].pk).update(started_at=at(2026, 11, 5, 1), ended_at=None)
    assert_consistent()
    Livestream.objects.filter(creator=creator, started_at__lt=at(2026, 11, 2, 23)).update(viewers=42)
    assert_consistent()
    Livestream.objects.filter(pk=streams[1].pk).update(title="only the title")  # no refresh needed
    assert_consistent()
    Livestream.objects.get(pk=streams[2].pk).delete()
    assert_consistent()
    Livestream.objects.filter(pk=streams[3].pk).delete()
    assert_consistent()
    Livestream.objects.filter(creator=creator).delete()
    assert not CreatorDay.objects.exists()


def test_bulk_create_upsert_and_bulk_update_keep_it():
    creator, other = CreatorFactory(), CreatorFactory()
    first = Livestream(creator=creator, external_id="bulk-1", title="t", started_at=at(2026, 11, 1, 20), viewers=5,
                       gmv=Decimal("1.50"), orders=1, units=2)  # fmt: skip
    second = Livestream(creator=creator, external_id="bulk-2", title="t", started_at=at(2026, 11, 1, 21), viewers=7)
    Livestream.objects.bulk_create([first, second])
    assert_consistent()
    moved = Livestream(creator=other, external_id="bulk-1", title="t", started_at=at(2026, 11, 3, 20), viewers=9)
    Livestream.objects.bulk_create(
        [moved],
        update_conflicts=True,
        unique_fields=["external_id"],
        update_fields=["creator", "started_at", "viewers", "gmv", "orders", "units"],
    )
    assert_consistent()
    assert CreatorDay.objects.get(creator=creator, day=datetime.date(2026, 11, 1)).livestreams == 1
    second = Livestream.objects.get(external_id="bulk-2")
    second.started_at = at(2026, 11, 4, 20)
    Livestream.objects.bulk_update([second], ["started_at"])
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
    refresh_creator_days([key, key])
    assert_consistent()
    refresh_creator_days([(creator.pk, datetime.date(2026, 1, 1))])  # a day without livestreams: no row
    assert_consistent()


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
        stream.replace_products(products(shop, f"{rng.randint(1, 99999) / 100:.2f}", rng.randint(1, 50), f"S{n}"))
    LivestreamFactory(creator=CreatorFactory(), cooperating=[shop], started_at=at(2026, 11, 1, 20), minutes=0)
    return creator


def test_overview_figures_from_the_roll_up_equal_the_direct_aggregate(month):
    start, end = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
    via_rollup = Livestream.objects.for_creator(month)
    direct_qs = Livestream.objects.filter(creator=month)  # not for_creator() alone: aggregates the livestreams
    assert via_rollup._creator_days() is not None
    assert direct_qs._creator_days() is None
    assert via_rollup.totals_with_previous(start, end) == direct_qs.totals_with_previous(start, end)
    assert via_rollup.daily(start, end) == direct_qs.daily(start, end)
    assert via_rollup.totals_with_previous(start, end)[0]["count"] > 0


def test_only_for_creator_alone_reads_the_roll_up(month):
    start, end = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
    for queryset, table in (
        (Livestream.objects.for_creator(month), "livestreams_creatorday"),
        (Livestream.objects.for_creator(month).order_by("pk"), "livestreams_creatorday"),
        (Livestream.objects.for_creator(month).ended(), "livestreams_livestream"),
        (Livestream.objects.for_creator(month).exclude(viewers=0), "livestreams_livestream"),
        (Livestream.objects.filter(viewers__gt=0).for_creator(month), "livestreams_livestream"),
        (Livestream.objects.for_creator(month).none(), None),
    ):
        with CaptureQueriesContext(connection) as queries:
            queryset.totals_with_previous(start, end)
            queryset.daily(start, end)
        assert all(table in q["sql"] for q in queries.captured_queries), (queryset.query, table)


def test_badge_is_capped_on_every_page(client, monkeypatch):
    """The navigation badge counts at most COUNT_CAP pending requests ("999+" style), everywhere."""
    import grants.speedups

    monkeypatch.setattr(grants.speedups, "COUNT_CAP", 3)
    creator = CreatorFactory()
    shops = [ShopFactory() for _ in range(4)]
    stream = LivestreamFactory(creator=creator, cooperating=shops, minutes=0)
    for shop in shops:
        LivestreamAccessRequest.objects.create(
            livestream=stream, organization=shop, requested_by=shop.main_account, status="pending"
        )
    client.force_login(creator.user)
    html = client.get(reverse("livestreams:creator_overview", args=[creator.pk])).content.decode()
    assert ">2+</span>" in html
