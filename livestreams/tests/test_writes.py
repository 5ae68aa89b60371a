"""The livestream writers (``livestreams.writes``): each writes what it says and keeps what is
derived in step — the livestream's sums and cooperations, the creator roll-up, ``updated_at``, the
requests' copy of the creator — in one transaction; nothing is written when one fails."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from grants import services
from grants.models import LivestreamAccessRequest
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Cooperation, CreatorDay, Livestream, MinutePoint, ProductSale
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TOTALS = {"viewers": 100, "peak_online": 10, "avg_watch_seconds": 60, "new_followers": 1}


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def product(organization, sku, *, units=1, orders=1, price="10.00"):
    price = Decimal(price)
    return {"organization": organization, "sku": sku, "name": sku, "price": price, "units": units, "orders": orders,
            "gmv": price * units}  # fmt: skip


def day_row(creator, day):
    row = CreatorDay.objects.filter(creator=creator, day=day).values_list("livestreams", "gmv", "viewers").first()
    return row and (row[0], Decimal(row[1]), row[2])


# --- products: sums and cooperations ---------------------------------------------------------------


def test_replace_products_keeps_cooperations_and_sums_consistent():
    livestream = LivestreamFactory(minutes=0, cooperating=[])
    shop, agency = ShopFactory(), AgencyFactory()

    writes.replace_products(
        livestream=livestream,
        products=[
            product(shop, "A", units=3, orders=2, price="10.50"),
            product(shop, "B", units=1, orders=1, price="99.00"),
            product(agency, "C", units=5, orders=5, price="2.00"),
        ],
    )
    assert (livestream.gmv, livestream.orders, livestream.units) == (Decimal("140.50"), 8, 9)  # the instance too
    livestream.refresh_from_db()
    assert (livestream.gmv, livestream.orders, livestream.units) == (Decimal("140.50"), 8, 9)
    cooperations = {c.organization_id: c for c in Cooperation.objects.filter(livestream=livestream)}
    assert set(cooperations) == {shop.pk, agency.pk}
    assert (cooperations[shop.pk].gmv, cooperations[shop.pk].orders, cooperations[shop.pk].units) == (
        Decimal("130.50"),
        3,
        4,
    )
    assert cooperations[agency.pk].gmv == Decimal("10.00")
    assert cooperations[shop.pk].started_at == livestream.started_at
    assert day_row(livestream.creator, livestream.started_at.astimezone(SHANGHAI).date())[1] == Decimal("140.50")

    # Replacing again drops the agency's products, and with them its cooperation.
    writes.replace_products(livestream=livestream, products=[product(shop, "D", units=2, orders=1, price="1.25")])
    livestream.refresh_from_db()
    assert list(livestream.products.values_list("sku", flat=True)) == ["D"]
    assert list(livestream.cooperations.values_list("organization", "gmv")) == [(shop.pk, Decimal("2.50"))]
    assert (livestream.gmv, livestream.orders, livestream.units) == (Decimal("2.50"), 1, 2)

    writes.replace_products(livestream=livestream, products=[])
    livestream.refresh_from_db()
    assert (livestream.gmv, livestream.orders, livestream.units) == (0, 0, 0)
    assert not livestream.cooperations.exists()


def test_replace_products_writes_nothing_when_it_fails():
    livestream = LivestreamFactory(minutes=0, cooperating=[])
    shop = ShopFactory()
    writes.replace_products(livestream=livestream, products=[product(shop, "A")])
    updated_at = Livestream.objects.get(pk=livestream.pk).updated_at
    with pytest.raises(IntegrityError), transaction.atomic():
        writes.replace_products(livestream=livestream, products=[product(shop, "B"), product(shop, "B")])
    fresh = Livestream.objects.get(pk=livestream.pk)
    assert list(fresh.products.values_list("sku", flat=True)) == ["A"]
    assert fresh.cooperations.count() == 1
    assert (fresh.gmv, fresh.updated_at) == (Decimal("10.00"), updated_at)


# --- upsert ---------------------------------------------------------------------------------------


def upsert(external_id, creator, started_at, products=(), **kwargs):
    return writes.upsert_livestream(
        external_id=external_id, creator=creator, title="t", started_at=started_at,
        ended_at=started_at + datetime.timedelta(hours=2), totals=TOTALS, products=products, **kwargs,
    )  # fmt: skip


def test_an_upsert_creates_then_replaces_everything_in_place():
    creator, shop = CreatorFactory(), ShopFactory()
    first = upsert("u-1", creator, at(2026, 11, 1, 20), [product(shop, "A")],
                   minutes=[(at(2026, 11, 1, 20), 5, 1, Decimal("1.00"), 1)])  # fmt: skip
    assert (first.gmv, first.minutes.count(), day_row(creator, datetime.date(2026, 11, 1))) == (
        Decimal("10.00"), 1, (1, Decimal("10.00"), 100),
    )  # fmt: skip
    # Moved to the next day with other products: the same row, its cooperations' start with it.
    again = upsert("u-1", creator, at(2026, 11, 2, 0, 30), [product(shop, "B", units=3)])
    assert (again.pk, again.created_at) == (first.pk, first.created_at)
    assert again.updated_at > first.updated_at
    assert (again.gmv, again.minutes.count()) == (Decimal("30.00"), 0)
    assert list(again.cooperations.values_list("started_at", flat=True)) == [at(2026, 11, 2, 0, 30)]
    assert day_row(creator, datetime.date(2026, 11, 1)) is None
    assert day_row(creator, datetime.date(2026, 11, 2)) == (1, Decimal("30.00"), 100)


# --- minutes, live figures --------------------------------------------------------------------------


def test_replace_and_add_minutes_move_updated_at():
    livestream = LivestreamFactory(minutes=3, cooperating=[])
    before = Livestream.objects.get(pk=livestream.pk).updated_at
    start = livestream.started_at
    rows = [(start, 5, 1, Decimal("1.50"), 1), (start + datetime.timedelta(minutes=1), 6, 0, Decimal("0"), 0)]
    assert writes.replace_minutes(livestream=livestream, minutes=rows) == 2
    assert list(livestream.minutes.values_list("online", flat=True)) == [5, 6]
    middle = Livestream.objects.get(pk=livestream.pk).updated_at
    assert middle > before
    assert writes.add_minutes(livestream=livestream, minutes=[(start + datetime.timedelta(minutes=2), 7, 0, 0, 0)]) == 1
    assert list(livestream.minutes.values_list("online", flat=True)) == [5, 6, 7]
    assert Livestream.objects.get(pk=livestream.pk).updated_at > middle


def test_update_live_figures_writes_the_minute_products_totals_and_end_together():
    shop = ShopFactory()
    livestream = LivestreamFactory(live=True, minutes=2, cooperating=[shop])
    last = livestream.minutes.order_by("-at").first()
    day = livestream.started_at.astimezone(SHANGHAI).date()
    products = list(livestream.products.order_by("pk").values(*writes.PRODUCT_FIELDS))
    products[0]["gmv"] += Decimal("5.00")
    ended = last.at + datetime.timedelta(minutes=1)
    writes.update_live_figures(
        livestream=livestream,
        minute=(last.at, 42, 1, Decimal("0"), 0),  # replaces the point of that minute
        products=products,
        totals={"viewers": 123456},
        ended_at=ended,
    )
    fresh = Livestream.objects.get(pk=livestream.pk)
    assert (fresh.minutes.count(), fresh.minutes.get(at=last.at).online) == (2, 42)
    assert fresh.gmv == sum(p["gmv"] for p in products)
    assert fresh.cooperations.get().gmv == fresh.gmv
    assert (fresh.viewers, fresh.ended_at) == (123456, ended)
    assert day_row(fresh.creator, day) == (1, fresh.gmv, 123456)
    writes.update_live_figures(livestream=livestream, minute=(ended, 1, 1, Decimal("0"), 0))  # a new minute
    assert fresh.minutes.count() == 3
    with pytest.raises(ValueError, match="gmv"):
        writes.update_live_figures(livestream=livestream, totals={"gmv": 1})


# --- move and delete ------------------------------------------------------------------------------


def test_move_livestream_moves_the_roll_up_and_ends_the_requests():
    old, new, shop = CreatorFactory(), CreatorFactory(), ShopFactory()
    livestream = LivestreamFactory(creator=old, cooperating=[shop], started_at=at(2026, 11, 1, 23, 30), minutes=0)
    LivestreamFactory(creator=old, cooperating=[shop], started_at=at(2026, 11, 1, 9), minutes=0)
    request = services.request_livestream_access(livestream=livestream, actor=shop.main_account)
    before = Livestream.objects.get(pk=livestream.pk).updated_at
    with time_machine.travel(datetime.timedelta(seconds=1)):
        writes.move_livestream(livestream=livestream, creator=new)
    fresh = Livestream.objects.get(pk=livestream.pk)
    assert (fresh.creator, livestream.creator) == (new, new)
    assert fresh.updated_at > before
    assert day_row(old, datetime.date(2026, 11, 1))[0] == 1
    assert day_row(new, datetime.date(2026, 11, 1)) == (1, fresh.gmv, fresh.viewers)
    ended = LivestreamAccessRequest.objects.get(pk=request.pk)
    assert (ended.status, ended.creator_id) == ("ended", old.pk)


def test_delete_livestreams_refreshes_the_roll_up_and_is_refused_while_requests_point_at_one():
    creator, shop = CreatorFactory(), ShopFactory()
    streams = [
        LivestreamFactory(creator=creator, cooperating=[shop], started_at=at(2026, 11, 1, hour), minutes=2)
        for hour in (9, 10, 11)
    ]
    services.request_livestream_access(livestream=streams[2], actor=shop.main_account)
    with pytest.raises(ProtectedError):
        writes.delete_livestreams(ids=[streams[1].pk, streams[2].pk])
    assert Livestream.objects.filter(creator=creator).count() == 3
    assert day_row(creator, datetime.date(2026, 11, 1))[0] == 3

    assert writes.delete_livestreams(ids=[streams[0].pk, streams[1].pk, 999_999]) == 2
    assert day_row(creator, datetime.date(2026, 11, 1))[0] == 1
    assert not ProductSale.objects.filter(livestream__in=streams[:2]).exists()
    assert MinutePoint.objects.filter(livestream_id__in=[s.pk for s in streams]).count() == 2
    assert writes.delete_livestreams(ids=[]) == 0
