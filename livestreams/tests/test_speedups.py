"""Each speed-up equals the plain read it stands for, exactly, on random data (Hypothesis): the
roll-up reads of ``livestreams.speedups`` against ``LivestreamQuerySet``'s plain aggregates, and the
roll-up itself (``CreatorDay``) against a direct aggregate of the livestreams — after the data is
written by the writers, and again after random writes through them (move, delete, replace
products, re-import at another time). Several creators, start times around Asia/Shanghai midnight,
random sums and random ranges. Run on SQLite and on PostgreSQL (``DATABASE_URL``); the plain
aggregates are themselves checked against the same figures computed in Python."""

import datetime
import os
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from livestreams import speedups, writes
from livestreams.models import Livestream
from livestreams.tests.test_rollup import direct, rolled_up
from portal.factories import CreatorFactory, ShopFactory

pytestmark = [pytest.mark.django_db, pytest.mark.equivalence]

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE = datetime.date(2026, 11, 10)
CREATORS, SHOPS = 3, 3
TOTALS = {"peak_online": 1, "avg_watch_seconds": 1, "new_followers": 0}
EQUIVALENCE = settings(
    max_examples=int(os.environ.get("EQUIVALENCE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=SHANGHAI)


# A start: one of a few days around BASE (so creators share days), then a time at or near its
# midnight (either side, to the second) or any time of the day.
starts = st.builds(
    lambda day, seconds: midnight(BASE + datetime.timedelta(days=day)) + datetime.timedelta(seconds=seconds),
    st.integers(-3, 3),
    st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-90, 90), st.integers(0, 86_399)),
)
products = st.lists(
    st.tuples(
        st.integers(0, SHOPS - 1),  # shop
        st.integers(0, 100_000_000),  # gmv in cents
        st.integers(0, 10_000),  # orders
        st.integers(0, 10_000),  # units
    ),
    max_size=3,
)
livestreams = st.lists(
    st.tuples(st.integers(0, CREATORS - 1), starts, st.integers(0, 10**9), products), max_size=8
)  # (creator, started_at, viewers, products)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(0, 99), st.integers(0, CREATORS - 1)),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("products"), st.integers(0, 99), products),
        st.tuples(st.just("reschedule"), st.integers(0, 99), starts),
    ),
    max_size=5,
)
ranges = st.lists(
    st.builds(
        lambda start, length: (BASE + datetime.timedelta(days=start), BASE + datetime.timedelta(days=start + length)),
        st.integers(-7, 7),
        st.integers(0, 7),
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture
def parties():
    return [CreatorFactory() for _ in range(CREATORS)], [ShopFactory() for _ in range(SHOPS)]


def product_rows(shops, drawn):
    rows = {}
    for shop, cents, orders, units in drawn:  # one row per shop (sku unique per shop)
        rows[shop] = {"organization_id": shops[shop].pk, "sku": f"S{shop}", "name": "n", "price": Decimal("1.00"),
                      "units": units, "orders": orders, "gmv": Decimal(cents) / 100}  # fmt: skip
    return list(rows.values())


def record(index, creators, shops, creator, started_at, viewers, drawn):
    return writes.LivestreamRecord(
        external_id=f"eq-{index}", creator_id=creators[creator].pk, title="t", started_at=started_at, ended_at=None,
        totals={"viewers": viewers, **TOTALS}, products=product_rows(shops, drawn), minutes=[], funnel=None,
        sources=None, audience=None,
    )  # fmt: skip


def apply(operation, creators, shops):
    """One random write through the writers, on the ``index``-th livestream (modulo how many there are)."""
    existing = list(Livestream.objects.order_by("pk"))
    if not existing:
        return
    kind, index, *args = operation
    livestream = existing[index % len(existing)]
    if kind == "move":
        writes.move_livestream(livestream=livestream, creator=creators[args[0]])
    elif kind == "delete":
        writes.delete_livestream(livestream=livestream)
    elif kind == "products":
        writes.replace_products(livestream=livestream, products=product_rows(shops, args[0]))
    else:  # re-imported with another start: everything else as it is
        rows = list(livestream.products.values(*writes.PRODUCT_FIELDS))
        writes.upsert_livestreams(
            [
                writes.LivestreamRecord(
                    external_id=livestream.external_id,
                    creator_id=livestream.creator_id,
                    title="t",
                    started_at=args[0],
                    ended_at=None,
                    totals={"viewers": livestream.viewers, **TOTALS},
                    products=rows,
                    minutes=[],
                    funnel=None,
                    sources=None,
                    audience=None,
                )  # fmt: skip
            ]
        )


def in_python(creator, start, end) -> tuple[dict, list]:
    """The current period's totals and daily series, computed from the rows in Python."""
    rows = [
        (row.started_at.astimezone(SHANGHAI).date(), row)
        for row in Livestream.objects.filter(creator=creator)
        if start <= row.started_at.astimezone(SHANGHAI).date() <= end
    ]
    count, viewers = len(rows), sum(row.viewers for _day, row in rows)
    totals = {"count": count, "gmv": sum((row.gmv for _day, row in rows), Decimal("0.00")),
              "orders": sum(row.orders for _day, row in rows), "units": sum(row.units for _day, row in rows),
              "viewers": viewers, "avg_viewers": viewers // count if count else 0}  # fmt: skip
    daily = []
    for offset in range((end - start).days + 1):
        day = start + datetime.timedelta(days=offset)
        of_day = [row for row_day, row in rows if row_day == day]
        daily.append({"day": day, "gmv": sum((row.gmv for row in of_day), Decimal("0.00")),
                      "orders": sum(row.orders for row in of_day), "count": len(of_day)})  # fmt: skip
    return totals, daily


def assert_equivalent(creators, periods):
    assert rolled_up() == direct()
    for creator in creators:
        plain = Livestream.objects.for_creator(creator)
        for start, end in periods:
            totals = plain.totals_with_previous(start, end)
            daily = plain.daily(start, end)
            assert speedups.creator_totals_with_previous(creator, start, end) == totals
            assert speedups.creator_daily(creator, start, end) == daily
            assert in_python(creator, start, end) == (totals[0], daily)


def at(day: int, seconds: int) -> datetime.datetime:
    return midnight(BASE + datetime.timedelta(days=day)) + datetime.timedelta(seconds=seconds)


@EQUIVALENCE
@given(drawn=livestreams, writes_after=operations, periods=ranges)
# Midnight exactly: the last second of a day and the first of the next, one creator, then moved.
@example(
    drawn=[(0, at(0, -1), 5, [(0, 150, 1, 1)]), (0, at(0, 0), 7, [(1, 250, 2, 2)]), (1, at(0, 1), 11, [])],
    writes_after=[("move", 1, 1), ("reschedule", 0, at(1, 0)), ("products", 2, [(2, 99, 1, 1)]), ("delete", 0)],
    periods=[(BASE - datetime.timedelta(days=1), BASE), (BASE, BASE + datetime.timedelta(days=1))],
)
def test_the_roll_up_reads_equal_the_plain_aggregates(parties, drawn, writes_after, periods):
    creators, shops = parties
    with transaction.atomic():
        if drawn:
            writes.upsert_livestreams([record(index, creators, shops, *spec) for index, spec in enumerate(drawn)])
        assert_equivalent(creators, periods)
        for operation in writes_after:
            apply(operation, creators, shops)
        assert_equivalent(creators, periods)
        transaction.set_rollback(True)  # the next example starts from no livestreams


@pytest.fixture
def few_streams():
    from livestreams.factories import LivestreamFactory

    return [LivestreamFactory(minutes=0) for _ in range(3)]


@EQUIVALENCE
@given(pick=st.integers(0, 4))
def test_the_compiled_livestream_query_equals_its_queryset(few_streams, pick):
    """Every livestream page loads its livestream with its creator through the compiled query."""
    ids = [stream.pk for stream in few_streams] + [max(s.pk for s in few_streams) + 1, -1]
    livestream_id = ids[pick]
    compiled = speedups.LIVESTREAM_WITH_CREATOR.objects(livestream=livestream_id)
    built = list(speedups.LIVESTREAM_WITH_CREATOR.build(livestream=livestream_id))

    def fields(stream):
        row = {f.attname: getattr(stream, f.attname) for f in stream._meta.concrete_fields}
        return row, {f.attname: getattr(stream.creator, f.attname) for f in stream.creator._meta.concrete_fields}

    assert [fields(s) for s in compiled] == [fields(s) for s in built]
