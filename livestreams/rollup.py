"""The creator roll-ups: what they hold, defined once, and their one writer.

``SUMS`` is the definition of the daily totals (``CreatorDay``): each column and the aggregate over
the livestreams of the row's creator that started on the row's day (Asia/Shanghai) that it holds.
``PRODUCTS`` and ``SHOPS`` define the sales roll-ups the same way (``CreatorProductDay``,
``CreatorShopDay``: each column and its aggregate over the products of those livestreams, per
product or shop), with their two-year ceilings (``CreatorProductBound``, ``CreatorShopBound``).
Everything else is derived from these definitions: ``refresh_creator_days()`` (PostgreSQL
statements generated from them, and the portable ORM path that annotates with them),
``rebuild_creator_days()`` and the staleness checks (a bulk load's fill and its check, the
bench's), and the roll-up reads in ``livestreams.speedups``, which re-sum the columns.

``livestreams.writes`` calls ``refresh_creator_days()`` in the transaction of every write that
changes what a row sums; nothing calls it behind the caller's back.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, models, router, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import (
    ZERO,
    CreatorDay,
    CreatorProductBound,
    CreatorProductDay,
    CreatorShopBound,
    CreatorShopDay,
    Livestream,
    ProductSale,
    local_day,
    local_midnight,
)

Key = tuple[int, datetime.date]  # (creator id, day)

SUMS: dict[str, models.Aggregate] = {
    "livestreams": Count("id"),
    "gmv": Sum("gmv"),
    "orders": Sum("orders"),
    "units": Sum("units"),
    "viewers": Sum("viewers"),
}
# Day runs per aggregate query (portable path): keeps the OR of ranges well inside SQLite's
# expression depth limit.
RUNS_PER_QUERY = 200


# The sales roll-ups: the products of a creator's livestreams that started on a day, per product
# (a shop's sku) or per shop. Each column and its aggregate over those products (``ProductSale``).
PRODUCT_SUMS: dict[str, models.Aggregate] = {
    "name": Max("name"),
    "gmv": Sum("gmv"),
    "orders": Sum("orders"),
    "units": Sum("units"),
    # (livestream, organization, sku) is unique: a product's rows are its livestreams.
    "livestreams": Count("livestream_id"),
}
SHOP_SUMS: dict[str, models.Aggregate] = {
    "gmv": Sum("gmv"),
    "orders": Sum("orders"),
    "units": Sum("units"),
    "livestreams": Count("livestream_id", distinct=True),
}
BOUND_YEARS = 2  # a ceiling row covers the calendar years ``year`` … ``year + BOUND_YEARS - 1``
BOUND_LOCK = "livestreams.rollup: a creator's ceilings"  # names the advisory locks (hashed to their class)


@dataclass(frozen=True)
class SalesRollup:
    """A sales roll-up: ``day`` rows of (creator, day, ``keys``) holding ``sums`` of the products,
    and ``bound`` rows of (creator, year, ``keys``) holding each key's ceiling (``bound_of()``)."""

    day: type[models.Model]
    bound: type[models.Model]
    keys: tuple[str, ...]  # ProductSale columns, named as in both roll-up tables
    sums: dict[str, models.Aggregate]

    def period_sums(self) -> dict[str, models.Aggregate]:
        """The day rows' columns aggregated over a period's days: what ``sums`` gives over its
        products. A maximum of maxima is the maximum; a sum of sums is the sum; and a count of
        products or of *distinct* livestreams is the sum of the days' counts, because the days
        partition the livestreams (each has one creator and one start day), so no livestream is
        counted on two days."""
        return {name: Max(name) if isinstance(aggregate, Max) else Sum(name) for name, aggregate in self.sums.items()}


PRODUCTS = SalesRollup(CreatorProductDay, CreatorProductBound, ("organization_id", "sku"), PRODUCT_SUMS)
SHOPS = SalesRollup(CreatorShopDay, CreatorShopBound, ("organization_id",), SHOP_SUMS)
SALES = (PRODUCTS, SHOPS)
BoundKey = tuple  # (creator id, *keys, year)


def bound_of(gmvs: Iterable[Decimal]) -> Decimal:
    """A ceiling row's value from its key's daily GMV in its two years: the sum of the positive
    ones. Any period inside those years sums a subset of them, so it sold at most this much,
    whatever the signs."""
    return sum((gmv for gmv in gmvs if gmv > 0), ZERO)


def bound_years(day: datetime.date) -> tuple[int, ...]:
    """The ceiling rows a day counts in: those whose two years include it."""
    return tuple(range(day.year - BOUND_YEARS + 1, day.year + 1))


def direct_sales(rollup: SalesRollup, products: models.QuerySet) -> models.QuerySet:
    """``products`` summed by (creator, start day, ``rollup.keys``) as ``rollup.sums`` says: what
    the day rows of those keys must hold."""
    zone = timezone.get_default_timezone()
    return (
        products.annotate(creator_id=F("livestream__creator_id"), day=TruncDate("livestream__started_at", tzinfo=zone))
        .order_by()
        .values("creator_id", "day", *rollup.keys)
        .annotate(**rollup.sums)
    )


def direct_sums(livestreams: models.QuerySet) -> models.QuerySet:
    """``livestreams`` summed by (creator, start day) as ``SUMS`` says: rows of ``creator_id``,
    ``day`` and each CreatorDay column; what the roll-up's rows of those keys must hold."""
    zone = timezone.get_default_timezone()
    return (
        livestreams.annotate(day=TruncDate("started_at", tzinfo=zone))
        .order_by()
        .values("creator_id", "day")
        .annotate(**SUMS)
    )


def refresh_creator_days(keys: Iterable[Key], *, using: str | None = None) -> None:
    """Recompute the roll-up rows of ``keys``, (creator id, day) pairs, from the livestreams and
    their products: the day's totals (``CreatorDay``), its products and shops (``PRODUCTS``,
    ``SHOPS``), and the two-year ceilings of the products and shops whose day rows changed.

    The one writer of the roll-ups. Call it in the transaction that changed the livestreams or
    their products, after the change, with every (creator id, start day) a changed livestream had
    before and has after (``local_day(started_at)``).

    A constant number of statements for any number of keys: lock the rows (an upsert, in key
    order, so two writers of an overlapping set take turns and the later one sums what the earlier
    committed), sum the livestreams of those days into them, delete the rows of days left without
    livestreams. The day's product and shop rows are written under that lock; the ceilings, which
    span many days, are written under a lock per creator taken after it. On PostgreSQL three SQL
    statements for the totals, one per sales roll-up for its days, and one lock and one statement
    per roll-up for the ceilings, over arrays of the keys, whose text does not grow with them;
    elsewhere (SQLite, one writer at a time) the same steps through the ORM.
    """
    keys = sorted(set(keys))
    if not keys:
        return
    using = using or router.db_for_write(CreatorDay)
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            _refresh_sql(connection, keys)
            changed = [(rollup, _refresh_sales_sql(connection, rollup, keys)) for rollup in SALES]
            _refresh_bounds_sql(connection, changed)
        else:
            _refresh_orm(using, keys)
            for rollup in SALES:
                _refresh_bounds_orm(using, rollup, _refresh_sales_orm(using, rollup, keys))


def _sql_sums(connection, alias: str) -> str:
    """``SUMS`` as SQL over the livestream table ``alias``, named as the CreatorDay columns."""
    parts = []
    for name, aggregate in SUMS.items():
        (source,) = aggregate.source_expressions
        column = connection.ops.quote_name(Livestream._meta.get_field(source.name).column)
        parts.append(
            f"coalesce({aggregate.function.lower()}({alias}.{column}), 0) AS {connection.ops.quote_name(name)}"
        )
    return ", ".join(parts)


def _refresh_sql(connection, keys: list[Key]) -> None:
    quote = connection.ops.quote_name
    day_table, stream_table = quote(CreatorDay._meta.db_table), quote(Livestream._meta.db_table)
    names = [quote(name) for name in SUMS]
    keyed = "SELECT * FROM unnest(%s::bigint[], %s::date[]) AS k(creator_id, day)"
    arrays = [[creator_id for creator_id, _day in keys], [day for _creator_id, day in keys]]
    zone = timezone.get_default_timezone_name()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {day_table} (creator_id, day, {', '.join(names)}) "  # noqa: S608 - names from the models
            f"SELECT creator_id, day, {', '.join('0' for _ in names)} FROM ({keyed}) AS k ORDER BY creator_id, day "
            f"ON CONFLICT (creator_id, day) DO UPDATE SET {names[0]} = {day_table}.{names[0]}",
            arrays,
        )
        # Each key's sums by a LATERAL aggregate: an index range scan of (creator, started_at) per
        # key, whatever the number of keys (a join on the creator alone, which the planner chose
        # for thousands of keys, compared a busy creator's every livestream with every one of its days).
        cursor.execute(
            f"UPDATE {day_table} AS d SET {', '.join(f'{name} = s.{name}' for name in names)} "  # noqa: S608
            f"FROM ({keyed}) AS k CROSS JOIN LATERAL (SELECT {_sql_sums(connection, 'l')} "
            f"FROM {stream_table} AS l WHERE l.creator_id = k.creator_id "
            "AND l.started_at >= (k.day::timestamp AT TIME ZONE %s) "
            "AND l.started_at < ((k.day + 1)::timestamp AT TIME ZONE %s)) AS s "
            "WHERE d.creator_id = k.creator_id AND d.day = k.day",
            [*arrays, zone, zone],
        )
        cursor.execute(
            f"DELETE FROM {day_table} AS d USING ({keyed}) AS k "  # noqa: S608
            f"WHERE d.creator_id = k.creator_id AND d.day = k.day AND d.{names[0]} = 0",
            arrays,
        )


def _day_runs(keys: list[Key]) -> list[tuple[int, datetime.date, datetime.date]]:
    """Sorted keys as runs of consecutive days: (creator id, first day, last day)."""
    runs: list[list] = []
    for creator_id, day in keys:
        last = runs[-1] if runs else None
        if last is not None and last[0] == creator_id and last[2] + datetime.timedelta(days=1) == day:
            last[2] = day
        else:
            runs.append([creator_id, day, day])
    return [tuple(run) for run in runs]


def _started_on(keys: list[Key], prefix: str = "") -> Iterable[Q]:
    """Filters of livestreams (through ``prefix``, e.g. ``livestream__``) that started on the
    keys' days, by their creator: runs of consecutive days as one range, ``RUNS_PER_QUERY`` each."""
    runs = _day_runs(keys)
    for index in range(0, len(runs), RUNS_PER_QUERY):
        match = Q()
        for creator_id, first_day, last_day in runs[index : index + RUNS_PER_QUERY]:
            match |= Q(
                **{
                    f"{prefix}creator_id": creator_id,
                    f"{prefix}started_at__gte": local_midnight(first_day),
                    f"{prefix}started_at__lt": local_midnight(last_day + datetime.timedelta(days=1)),
                }
            )
        yield match


def _refresh_orm(using: str, keys: list[Key]) -> None:
    rows = CreatorDay.objects.using(using)
    unique = ["creator", "day"]
    first = next(iter(SUMS))
    rows.bulk_create(
        [CreatorDay(creator_id=creator_id, day=day) for creator_id, day in keys],
        update_conflicts=True, unique_fields=unique, update_fields=[first],
    )  # fmt: skip
    sums: dict[Key, dict] = {}
    for match in _started_on(keys):
        for row in direct_sums(Livestream.objects.using(using).filter(match)):
            sums[row["creator_id"], row["day"]] = row
    if sums:
        rows.bulk_create(
            [
                CreatorDay(creator_id=creator_id, day=day, **{name: row[name] for name in SUMS})
                for (creator_id, day), row in sorted(sums.items())
            ],
            update_conflicts=True, unique_fields=unique, update_fields=list(SUMS),
        )  # fmt: skip
    empty = [key for key in keys if key not in sums]
    for index in range(0, len(empty), RUNS_PER_QUERY):
        match = Q()
        for creator_id, day in empty[index : index + RUNS_PER_QUERY]:
            match |= Q(creator_id=creator_id, day=day)
        rows.filter(match).delete()


# --- the sales roll-ups' refresh ------------------------------------------------------------


def _column(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).column


def _sql_aggregate(connection, aggregate: models.Aggregate, alias: str) -> str:
    """One of a roll-up's ``sums`` as SQL over the product table ``alias``."""
    (source,) = aggregate.source_expressions
    column = connection.ops.quote_name(_column(ProductSale, source.name))
    return f"{aggregate.function.lower()}({'DISTINCT ' if aggregate.distinct else ''}{alias}.{column})"


def _array_type(model: type[models.Model], name: str, connection) -> str:
    field = model._meta.get_field(name)
    return (field.target_field if field.is_relation else field).cast_db_type(connection)


def _changed_bounds(rollup: SalesRollup, rows: Iterable[tuple]) -> set[tuple]:
    """The ceiling keys, (creator id, *keys, year), that day rows (creator id, day, *keys) count in."""
    return {(creator_id, *key, year) for creator_id, day, *key in rows for year in bound_years(day)}


def _refresh_sales_sql(connection, rollup: SalesRollup, keys: list[Key]) -> set[tuple]:
    """Write the day rows of ``keys`` from the products (one statement: upsert what changed, delete
    what is gone); returns the ceiling keys of the rows it wrote or deleted."""
    quote = connection.ops.quote_name
    table, streams, products = (quote(model._meta.db_table) for model in (rollup.day, Livestream, ProductSale))
    columns = [quote(_column(ProductSale, name)) for name in rollup.keys]  # the same in the roll-up
    names = [quote(name) for name in rollup.sums]

    def listed(alias: str, items: list[str]) -> str:
        return ", ".join(f"{alias}{item}" for item in items)

    same_key = " AND ".join(f"f.{column} = d.{column}" for column in columns)
    sums = ", ".join(
        f"{_sql_aggregate(connection, aggregate, 'p')} AS {quote(name)}" for name, aggregate in rollup.sums.items()
    )
    zone = timezone.get_default_timezone_name()
    statement = " ".join(
        [
            "WITH k AS (SELECT * FROM unnest(%s::bigint[], %s::date[]) AS k(creator_id, day)),",
            # The day's products, per key: each day's livestreams by an index range (as for the
            # totals), their products by the covering index on the livestream.
            f"fresh AS (SELECT k.creator_id, k.day, {listed('p.', columns)}, {sums} FROM k",
            f"CROSS JOIN LATERAL (SELECT l.id FROM {streams} AS l WHERE l.creator_id = k.creator_id",
            "AND l.started_at >= (k.day::timestamp AT TIME ZONE %s)",
            "AND l.started_at < ((k.day + 1)::timestamp AT TIME ZONE %s)) AS l",
            f"JOIN {products} AS p ON p.livestream_id = l.id GROUP BY k.creator_id, k.day, {listed('p.', columns)}),",
            # Rows that changed are written (and returned); unchanged ones are left alone.
            f"written AS (INSERT INTO {table} AS d (creator_id, day, {listed('', columns)}, {listed('', names)})",
            f"SELECT * FROM fresh ORDER BY creator_id, day, {listed('', columns)}",
            f"ON CONFLICT (creator_id, day, {listed('', columns)}) DO UPDATE SET",
            ", ".join(f"{name} = EXCLUDED.{name}" for name in names),
            f"WHERE ({listed('d.', names)}) IS DISTINCT FROM ({listed('EXCLUDED.', names)})",
            f"RETURNING d.creator_id, d.day, {listed('d.', columns)}),",
            f"removed AS (DELETE FROM {table} AS d USING k WHERE d.creator_id = k.creator_id AND d.day = k.day",
            "AND NOT EXISTS (SELECT FROM fresh AS f WHERE f.creator_id = d.creator_id AND f.day = d.day",
            f"AND {same_key})",
            f"RETURNING d.creator_id, d.day, {listed('d.', columns)})",
            "SELECT * FROM written UNION SELECT * FROM removed",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [[creator_id for creator_id, _day in keys], [day for _creator_id, day in keys], zone, zone],
        )
        return _changed_bounds(rollup, cursor.fetchall())


def _refresh_bounds_sql(connection, changed: list[tuple[SalesRollup, set[tuple]]]) -> None:
    """Recompute the ceiling rows of each roll-up's ``bounds`` from the day rows (``bound_of()``:
    the positive daily GMV of their two years), writing only those that change and deleting those
    left without days.

    A ceiling sums many days, each written under its own day's lock, so writers of different days
    of one creator take turns here: a transaction-scoped advisory lock per creator (in creator
    order), then one statement per roll-up, whose snapshot, taken after the lock, holds what the
    previous holder committed. So each changed row is written once."""
    creators = sorted({bound[0] for _rollup, bounds in changed for bound in bounds})
    if not creators:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(hashtext(%s), (c %% 2147483648)::integer)) "
            "FROM (SELECT c FROM unnest(%s::bigint[]) AS c ORDER BY c) AS ordered",
            [BOUND_LOCK, creators],
        )
        for rollup, bounds in changed:
            if not bounds:
                continue
            table, days = quote(rollup.bound._meta.db_table), quote(rollup.day._meta.db_table)
            columns = ["creator_id", *(quote(_column(rollup.bound, name)) for name in rollup.keys)]
            owner = ", ".join(columns)
            types = ", ".join(f"%s::{_array_type(rollup.bound, name, connection)}[]" for name in rollup.keys)
            arrays = [list(column) for column in zip(*sorted(bounds), strict=True)]

            def same(alias: str, other: str, columns: list[str] = columns) -> str:
                return " AND ".join(f"{alias}.{column} = {other}.{column}" for column in columns)

            statement = " ".join(
                [
                    f"WITH k AS (SELECT * FROM unnest(%s::bigint[], {types}, %s::integer[]) AS k({owner}, year)),",
                    "s AS (SELECT k.*, c.gmv, c.n FROM k CROSS JOIN LATERAL",
                    f"(SELECT coalesce(sum(greatest(d.gmv, 0)), 0) AS gmv, count(*) AS n FROM {days} AS d",
                    f"WHERE {same('d', 'k')} AND d.day >= make_date(k.year, 1, 1)",
                    "AND d.day < make_date(k.year + %s, 1, 1)) AS c),",
                    f"written AS (INSERT INTO {table} AS b ({owner}, year, gmv) SELECT {owner}, year, gmv FROM s",
                    f"WHERE n > 0 ORDER BY {owner}, year ON CONFLICT ({owner}, year)",
                    "DO UPDATE SET gmv = EXCLUDED.gmv WHERE b.gmv <> EXCLUDED.gmv)",
                    f"DELETE FROM {table} AS b USING s WHERE {same('b', 's')} AND b.year = s.year AND s.n = 0",
                ]
            )
            cursor.execute(statement, [*arrays, BOUND_YEARS])


def _day_rows_on(keys: list[Key]) -> Iterable[Q]:
    """Filters of roll-up rows on the keys' (creator, day): runs of days, ``RUNS_PER_QUERY`` each."""
    runs = _day_runs(keys)
    for index in range(0, len(runs), RUNS_PER_QUERY):
        match = Q()
        for creator_id, first_day, last_day in runs[index : index + RUNS_PER_QUERY]:
            match |= Q(creator_id=creator_id, day__gte=first_day, day__lte=last_day)
        yield match


def _refresh_sales_orm(using: str, rollup: SalesRollup, keys: list[Key]) -> set[tuple]:
    rows = rollup.day.objects.using(using)
    changed: set[tuple] = set()
    for match in _day_rows_on(keys):
        changed.update(rows.filter(match).values_list("creator_id", "day", *rollup.keys))
        rows.filter(match).delete()
    fresh = []
    for match in _started_on(keys, "livestream__"):
        fresh += list(direct_sales(rollup, ProductSale.objects.using(using).filter(match)))
    rows.bulk_create([rollup.day(**row) for row in fresh], batch_size=500)
    changed.update((row["creator_id"], row["day"], *(row[name] for name in rollup.keys)) for row in fresh)
    return _changed_bounds(rollup, changed)


def _expected_bounds(rollup: SalesRollup, day_rows: Iterable[tuple], wanted: set[tuple] | None = None) -> dict:
    """The ceilings that day rows (creator id, *keys, day, gmv) make: {(creator id, *keys, year): gmv},
    only of ``wanted`` ceiling keys if given."""
    gmvs: dict[tuple, list] = defaultdict(list)
    for creator_id, *key, day, gmv in day_rows:
        for year in bound_years(day):
            bound = (creator_id, *key, year)
            if wanted is None or bound in wanted:
                gmvs[bound].append(gmv)
    return {bound: bound_of(values) for bound, values in gmvs.items()}


def _refresh_bounds_orm(using: str, rollup: SalesRollup, bounds: set[tuple]) -> None:
    rows = rollup.bound.objects.using(using)
    owners = sorted({bound[:-1] for bound in bounds})
    for index in range(0, len(owners), RUNS_PER_QUERY):
        match = Q()
        for creator_id, *key in owners[index : index + RUNS_PER_QUERY]:
            match |= Q(creator_id=creator_id, **dict(zip(rollup.keys, key, strict=True)))
        chunk = {bound for bound in bounds if bound[:-1] in set(owners[index : index + RUNS_PER_QUERY])}
        day_rows = rollup.day.objects.using(using).filter(match).values_list("creator_id", *rollup.keys, "day", "gmv")
        expected = _expected_bounds(rollup, day_rows, chunk)
        for bound in chunk:
            *owner, year = bound
            rows.filter(creator_id=owner[0], year=year, **dict(zip(rollup.keys, owner[1:], strict=True))).delete()
        rows.bulk_create(
            [
                rollup.bound(creator_id=creator_id, year=year, gmv=gmv, **dict(zip(rollup.keys, key, strict=True)))
                for (creator_id, *key, year), gmv in sorted(expected.items())
            ]
        )


def stale_sales(rollup: SalesRollup, *, using: str | None = None) -> tuple[set[Key], set[tuple]]:
    """The (creator, day) keys whose day rows differ from the products' sums (missing, left over or
    different), and the ceiling keys whose rows differ from the day rows' ``bound_of()``: both empty
    when the roll-up is right (a check after a bulk load that went around the writers)."""
    using = using or router.db_for_read(rollup.day)
    width = 2 + len(rollup.keys)
    expected = {
        tuple(row[name] for name in ("creator_id", "day", *rollup.keys)): tuple(row[name] for name in rollup.sums)
        for row in direct_sales(rollup, ProductSale.objects.using(using))
    }
    stored = {row[:width]: row[width:] for row in rollup.day.objects.using(using).values_list(
        "creator_id", "day", *rollup.keys, *rollup.sums)}  # fmt: skip
    days = {key[:2] for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key)}
    gmv_at = list(rollup.sums).index("gmv")
    made = _expected_bounds(
        rollup, ((creator_id, *key, day, values[gmv_at]) for (creator_id, day, *key), values in stored.items())
    )
    kept = {row[:-1]: row[-1] for row in rollup.bound.objects.using(using).values_list(
        "creator_id", *rollup.keys, "year", "gmv")}  # fmt: skip
    bounds = {key for key in made.keys() | kept.keys() if made.get(key) != kept.get(key)}
    return days, bounds


def repair_sales(*, using: str | None = None) -> dict[str, int]:
    """Find and refresh whatever of the sales roll-ups is stale (``stale_sales()``): the days first
    (which also refreshes the ceilings of the rows they change), then the ceilings still stale.
    Returns how many day keys and ceiling keys of each table were found stale."""
    found = [(sales, stale_sales(sales, using=using)) for sales in SALES]
    days = {key for _sales, (stale_days, _bounds) in found for key in stale_days}
    refresh_creator_days(days, using=using)
    using = using or router.db_for_write(CreatorDay)
    connection = connections[using]
    with transaction.atomic(using=using):
        # Refreshing days refreshed the ceilings of what changed; look again only then.
        stale = [(sales, stale_sales(sales, using=using)[1] if days else bounds) for sales, (_days, bounds) in found]
        if connection.vendor == "postgresql":
            _refresh_bounds_sql(connection, stale)
        else:
            for sales, bounds in stale:
                _refresh_bounds_orm(using, sales, bounds)
    counts = {}
    for sales, (days, bounds) in found:
        counts[sales.day._meta.model_name] = len(days)
        counts[sales.bound._meta.model_name] = len(bounds)
    return counts


def stale_creator_days(*, using: str | None = None) -> set[Key]:
    """The keys whose roll-up row is missing, left over or differs from the livestreams' sums: empty
    when the roll-up is right (a check after a bulk load that went around the writers)."""
    using = using or router.db_for_read(CreatorDay)
    expected = {(row.pop("creator_id"), row.pop("day")): row for row in direct_sums(Livestream.objects.using(using))}
    stored = {
        (row.pop("creator_id"), row.pop("day")): row
        for row in CreatorDay.objects.using(using).values("creator_id", "day", *SUMS)
    }
    return {key for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key)}


def rebuild_creator_days(*, using: str | None = None) -> int:
    """Refresh every roll-up row there is or should be (after a bulk load that went around the
    writers, such as the bench's ``COPY``): the totals, the products and shops of every day, and the
    ceilings of every day row that changed; returns how many rows ``CreatorDay`` then has.
    (``repair_sales()`` also finds ceilings that drifted while their day rows stayed right.)"""
    using = using or router.db_for_write(CreatorDay)
    keys = {
        (creator_id, local_day(started_at))
        for creator_id, started_at in Livestream.objects.using(using).order_by().values_list("creator_id", "started_at")
    }
    keys.update(CreatorDay.objects.using(using).values_list("creator_id", "day"))
    for rollup in SALES:
        keys.update(rollup.day.objects.using(using).values_list("creator_id", "day").distinct())
    refresh_creator_days(keys, using=using)
    return CreatorDay.objects.using(using).count()
