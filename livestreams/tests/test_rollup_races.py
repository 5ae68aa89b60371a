"""Writers of the same creator and day, or of one product on several days, racing, leave the roll-ups
right (PostgreSQL: real row locks)."""

import datetime
import threading
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction

from livestreams import rollup, writes
from livestreams.models import CreatorDay, CreatorProductBound, CreatorShopBound, Livestream
from portal.factories import CreatorFactory, ShopFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are tested on PostgreSQL"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def race(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as error:  # noqa: BLE001 - the assertion reports it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_concurrent_writers_of_one_day_are_all_counted():
    creator, other = CreatorFactory(), CreatorFactory()
    day = datetime.date(2026, 11, 1)

    def write(n):
        def call():
            with transaction.atomic():
                writes.upsert_livestream(
                    external_id=f"race-{n}", creator=creator, title="t",
                    started_at=datetime.datetime(2026, 11, 1, 8 + n, tzinfo=SHANGHAI), ended_at=None,
                    totals={"viewers": n, "peak_online": 0, "avg_watch_seconds": 0, "new_followers": 0},
                )  # fmt: skip
                time.sleep(0.05)  # hold the day's row: the others wait, then sum what this one committed

        return call

    assert race(*[write(n) for n in range(6)]) == []
    row = CreatorDay.objects.get(creator=creator, day=day)
    assert (row.livestreams, row.viewers) == (6, sum(range(6)))
    # And moving them all to another creator, concurrently, empties the day of the first.
    streams = list(Livestream.objects.filter(creator=creator))

    def move(stream):
        def call():
            with transaction.atomic():
                writes.move_livestream(livestream=stream, creator=other)
                time.sleep(0.02)

        return call

    assert race(*[move(stream) for stream in streams]) == []
    assert not CreatorDay.objects.filter(creator=creator, day=day).exists()
    row = CreatorDay.objects.get(creator=other, day=day)
    assert (row.livestreams, row.viewers) == (6, sum(range(6)))


def test_concurrent_writers_of_one_product_on_different_days_keep_its_ceiling():
    """Each day is locked by its own writer, but a product's two-year ceiling sums many days: the
    writers take turns on the creator's ceilings (an advisory lock), the last one summing what the others
    committed. Fails with the lock made shared."""
    creator, shop = CreatorFactory(), ShopFactory()

    def write(n):
        def call():
            with transaction.atomic():
                writes.upsert_livestream(
                    external_id=f"ceiling-{n}", creator=creator, title="t",
                    started_at=datetime.datetime(2026, 3, 1 + n, 20, tzinfo=SHANGHAI), ended_at=None,
                    totals={"viewers": 1, "peak_online": 0, "avg_watch_seconds": 0, "new_followers": 0},
                    products=[{"organization": shop, "sku": "A", "name": "n", "price": Decimal("1.00"), "units": 1,
                               "orders": 1, "gmv": Decimal(n + 1)}],
                )  # fmt: skip
                time.sleep(0.05)  # hold the lock: the others wait, then sum what this one committed

        return call

    assert race(*[write(n) for n in range(6)]) == []
    for year in (2025, 2026):
        bound = CreatorProductBound.objects.get(creator=creator, year=year, organization=shop, sku="A")
        assert bound.gmv == sum(range(1, 7))
        assert CreatorShopBound.objects.get(creator=creator, year=year, organization=shop).gmv == sum(range(1, 7))
    for sales in rollup.SALES:
        assert rollup.stale_sales(sales) == (set(), set())
