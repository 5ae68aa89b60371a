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
from django.db import connection, transaction
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from livestreams import rollup, speedups, writes
from livestreams.models import Livestream, ProductSale
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


# --- the top lists ---------------------------------------------------------------------------------
# ``speedups.creator_top_products()``/``creator_top_shops()`` against ``ProductSale.objects``'
# ``top_products()``/``top_organizations()``: the same rows, in the same order, with the same ties
# (shared skus, equal GMV, the largest name), and the same livestream counts (a shop with several
# products in one livestream counts it once). Around a new year, so that periods fall in one or two
# of the ceilings' year pairs, or outside any; some products sold at a loss (the ceilings sum the
# positive days only). Each period is also read with the pruned plan forced (PostgreSQL): few seeds,
# so the floor is low and the candidates are filtered by their ceilings for real.

NEW_YEAR = datetime.date(2026, 12, 30)
# Longer than the ceilings' two years hold: it starts in 2026 and ends in 2028.
BEYOND_THE_CEILINGS = (datetime.date(2026, 12, 20), datetime.date(2028, 1, 3))
SKUS, NAMES = ("A", "B", "C"), ("蓝", "红", "绿")
sales = st.lists(
    st.tuples(
        st.integers(0, SHOPS - 1),
        st.sampled_from(SKUS),
        st.sampled_from(NAMES),
        st.one_of(st.sampled_from([0, 100, 250, 1000]), st.integers(-300, 5_000_000)),  # gmv in cents
        st.integers(0, 50),  # units (orders too)
    ),
    max_size=4,
)
sales_starts = st.builds(
    lambda day, seconds: midnight(NEW_YEAR + datetime.timedelta(days=day)) + datetime.timedelta(seconds=seconds),
    st.integers(-4, 4),
    st.one_of(st.sampled_from([-1, 0, 1]), st.integers(0, 86_399)),
)
sales_streams = st.lists(st.tuples(st.integers(0, CREATORS - 1), sales_starts, sales), max_size=10)
sales_operations = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(0, 99), st.integers(0, CREATORS - 1)),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("products"), st.integers(0, 99), sales),
        st.tuples(st.just("reschedule"), st.integers(0, 99), sales_starts),
    ),
    max_size=5,
)
sales_periods = st.lists(
    st.one_of(
        st.builds(
            lambda start, length: (
                NEW_YEAR + datetime.timedelta(days=start),
                NEW_YEAR + datetime.timedelta(days=start + length),
            ),  # fmt: skip
            st.integers(-6, 5),
            st.integers(0, 6),
        ),
        st.just(BEYOND_THE_CEILINGS),
    ),
    min_size=1,
    max_size=3,
)


def sale_rows(shops, drawn):
    rows = {}
    for shop, sku, name, cents, units in drawn:  # (livestream, shop, sku) is unique
        rows[shop, sku] = {"organization_id": shops[shop].pk, "sku": sku, "name": name, "price": Decimal("1.00"),
                           "units": units, "orders": units, "gmv": Decimal(cents) / 100}  # fmt: skip
    return list(rows.values())


def sales_record(index, creators, shops, creator, started_at, drawn):
    return writes.LivestreamRecord(
        external_id=f"top-{index}", creator_id=creators[creator].pk, title="t", started_at=started_at, ended_at=None,
        totals={"viewers": 1, **TOTALS}, products=sale_rows(shops, drawn), minutes=[], funnel=None, sources=None,
        audience=None,
    )  # fmt: skip


def apply_sales(operation, creators, shops):
    kind, *args = operation
    if kind == "products":
        existing = list(Livestream.objects.order_by("pk"))
        if existing:
            writes.replace_products(livestream=existing[args[0] % len(existing)], products=sale_rows(shops, args[1]))
    else:
        apply(operation, creators, shops)


PLANS = [{}, {"prune_from": -1, "seeds": 1, "cap": 10**6}, {"prune_from": -1, "seeds": 3, "cap": 10**6}]


def assert_same_top_lists(creators, periods, limits=(1, 3, 10)):
    for sales_rollup in rollup.SALES:
        assert rollup.stale_sales(sales_rollup) == (set(), set())
    pruned = 0
    for creator in creators:
        for start, end in periods:
            for limit in limits:
                products = ProductSale.objects.top_products(creator, start, end, limit)
                shops = ProductSale.objects.top_organizations(creator, start, end, limit)
                assert speedups.creator_top_products(creator, start, end, limit) == products
                assert speedups.creator_top_shops(creator, start, end, limit) == shops
                for plan in PLANS if connection.vendor == "postgresql" else []:
                    for top, plain in ((speedups.TOP_PRODUCTS, products), (speedups.TOP_SHOPS, shops)):
                        rows, was_pruned = speedups.top_list(top, creator, start, end, limit, **plan)
                        assert rows == plain, (plan, top.rollup.day.__name__)
                        pruned += was_pruned
    return pruned


@EQUIVALENCE
@given(drawn=sales_streams, writes_after=sales_operations, periods=sales_periods)
# Ties: two shops selling sku "A" for the same GMV (ordered by the shop), names kept by the largest,
# one shop's two products in one livestream (one livestream for the shop), a product at a loss.
@example(
    drawn=[
        (0, midnight(NEW_YEAR), [(0, "A", "蓝", 250, 1), (1, "A", "红", 250, 2), (0, "B", "绿", 100, 1)]),
        (0, midnight(NEW_YEAR) + datetime.timedelta(hours=3), [(0, "A", "红", 250, 1), (2, "C", "蓝", -300, 1)]),
        (0, midnight(NEW_YEAR + datetime.timedelta(days=2)), [(1, "A", "蓝", 500, 1)]),
    ],
    writes_after=[("move", 2, 1), ("reschedule", 0, midnight(NEW_YEAR + datetime.timedelta(days=3)))],
    periods=[(NEW_YEAR, NEW_YEAR + datetime.timedelta(days=3)), BEYOND_THE_CEILINGS],
)
def test_the_top_lists_equal_the_plain_reads(parties, drawn, writes_after, periods):
    creators, shops = parties
    with transaction.atomic():
        if drawn:
            writes.upsert_livestreams([sales_record(index, creators, shops, *spec) for index, spec in enumerate(drawn)])
        pruned = assert_same_top_lists(creators, periods)
        for operation in writes_after:
            apply_sales(operation, creators, shops)
        pruned += assert_same_top_lists(creators, periods)
        event(f"pruned plan taken: {pruned > 0}")
        transaction.set_rollback(True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pruned plan is PostgreSQL's")
def test_the_pruned_plan_is_taken_for_long_periods_and_leaves_out_what_cannot_be_best(parties):
    """A period with more livestreams than ``PRUNE_FROM``: the pruned plan answers, reading only
    the products whose ceiling reaches the floor, and its answer is the plain read's."""
    creators, shops = parties
    shops = shops + [ShopFactory() for _ in range(30)]
    records = []
    for index in range(speedups.PRUNE_FROM + 20):
        started = midnight(NEW_YEAR - datetime.timedelta(days=index % 200)) + datetime.timedelta(hours=index % 24)
        small = [(1 + index % 32, f"S{index}", "n", 100 + index, 1)]  # a product of its own, sold once
        best = [(0, "A", "n", 10_000 + index % 7, 1), (0, "B", "n", 5_000, 1)]
        records.append(sales_record(index, creators, shops, 0, started, best + small if index % 3 else small))
    writes.upsert_livestreams(records)
    creator, start, end = creators[0], NEW_YEAR - datetime.timedelta(days=199), NEW_YEAR
    for top, plain in (
        (speedups.TOP_PRODUCTS, ProductSale.objects.top_products(creator, start, end)),
        (speedups.TOP_SHOPS, ProductSale.objects.top_organizations(creator, start, end)),
    ):
        rows, pruned = speedups.top_list(top, creator, start, end)
        assert pruned
        assert rows == plain
        # Fewer than all: the products sold once cannot reach the floor, and are not candidates.
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + speedups._top_sql(connection, top), {
                "creator": creator.pk, "start": start, "end": end, "year": start.year, "spanned": True,
                "prune_from": speedups.PRUNE_FROM, "seeds": speedups.SEEDS, "last": 9, "cap": None, "limit": 10,
            })  # fmt: skip
            plan = cursor.fetchone()[0]
        assert 0 < _rows_of(plan[0]["Plan"], "CTE candidates") < top.rollup.day.objects.filter(creator=creator).count()
    assert speedups.top_list(speedups.TOP_PRODUCTS, creator, end - datetime.timedelta(days=6), end)[1] is False


def _rows_of(node, subplan):
    if node.get("Subplan Name") == subplan:
        return node["Actual Rows"]
    for child in node.get("Plans", []):
        found = _rows_of(child, subplan)
        if found is not None:
            return found
    return None
