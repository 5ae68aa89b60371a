"""The speed-ups: reads that answer from the creator roll-ups (``livestreams.rollup``) what the plain
ORM answers from the livestreams and their products, one row per day (and product or shop) instead
of ten livestreams a day, and for the top lists without summing every product of a long period.

Each function here equals a plain ``LivestreamQuerySet`` read exactly, which stays the definition;
``livestreams/tests/test_speedups.py`` compares them on random data (Hypothesis, SQLite and
PostgreSQL), also after random writes through ``livestreams.writes``:

=====================================================  =====================================================
speed-up                                               plain equivalent
=====================================================  =====================================================
``creator_totals_with_previous(creator, start, end)``  ``Livestream.objects.for_creator(creator)``
                                                       ``.totals_with_previous(start, end)``
``creator_daily(creator, start, end)``                 ``Livestream.objects.for_creator(creator)``
                                                       ``.daily(start, end)``
``creator_top_products(creator, start, end)``          ``ProductSale.objects``
                                                       ``.top_products(creator, start, end)``
``creator_top_shops(creator, start, end)``             ``ProductSale.objects``
                                                       ``.top_organizations(creator, start, end)``
``LIVESTREAM_WITH_CREATOR.objects(livestream=id)``     ``Livestream.objects.select_related("creator")``
                                                       ``.filter(pk=id)`` (compiled once: every livestream
                                                       page starts with it)
=====================================================  =====================================================

The roll-up reads are right as long as the roll-up is: ``livestreams.rollup`` keeps it, called by every writer.

How the top lists avoid summing a long period (``top_list()``, PostgreSQL): the ``limit`` best of
a period are found among the products whose two-year ceiling (``CreatorProductBound``: the sum of
their positive daily GMV in the calendar years of the period's start and the next, which hold any
period of up to 366 days) reaches a *floor*, the ``limit``-th largest period GMV among the
``SEEDS`` products with the highest ceilings. Ten products really sold at least the floor in the
period, so every product of the ``limit`` best sold at least the floor too, and its ceiling, which
is at least what it sold, reaches it: no product of the answer is left out, and each candidate's
figures are summed exactly from its days. This is the *pruned* plan; it reads ``SEEDS`` plus the
candidates' day rows, whatever the number of livestreams. The *direct* plan sums every day row of
the period: it is taken when the period holds at most ``PRUNE_FROM`` livestreams (its rows are few),
when the period does not fit the ceilings' two years, when fewer than ``limit`` seeds sold in it, or
when there are more candidates than the period has livestreams (the floor is too low to prune).
One statement either way: the plan is decided inside it. Elsewhere (SQLite) the direct plan, with
the ORM. The shops the same way (``CreatorShopBound``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, router
from django.db.models import F, OuterRef, Q, Subquery, Sum

from portal.compiled import CompiledQuery
from portal.models import Creator, Organization

from .models import CreatorDay, Livestream, every_day, period_totals
from .rollup import BOUND_YEARS, PRODUCTS, SHOPS, SUMS, SalesRollup

# Each roll-up column, re-summed over days, and the name the plain reads give that figure.
FIGURES = {column: "count" if column == "livestreams" else column for column in SUMS}


def creator_totals_with_previous(
    creator: Creator, start: datetime.date, end: datetime.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``creator``'s totals of ``[start, end]`` and of the period of the same length just before,
    in one aggregate over at most 2 × length roll-up rows, however many livestreams there were."""
    length = (end - start).days + 1
    previous_start = start - datetime.timedelta(days=length)
    current = Q(day__gte=start)
    sums = {}
    for name, period in (("cur", current), ("prev", ~current)):
        for column, figure in FIGURES.items():
            sums[f"{name}_{figure}"] = Sum(column, filter=period)
    row = (
        CreatorDay.objects.for_creator(creator)
        .filter(day__gte=previous_start, day__lte=end)
        .order_by()
        .aggregate(**sums)
    )
    return period_totals(row, "cur"), period_totals(row, "prev")


def creator_daily(creator: Creator, start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
    """``creator``'s GMV, orders and livestream count per day of ``[start, end]``, every day
    present: the roll-up's rows of those days."""
    rows = (
        CreatorDay.objects.for_creator(creator)
        .filter(day__gte=start, day__lte=end)
        .values("day", "gmv", "orders", count=F("livestreams"))
    )
    return every_day(rows, start, end)


LIVESTREAM_WITH_CREATOR = CompiledQuery(
    Livestream,
    lambda livestream: Livestream.objects.select_related("creator").filter(pk=livestream).order_by(),
    livestream="id",
)


# --- the top lists ---------------------------------------------------------------------------------

PRUNE_FROM = 400  # livestreams in the period up to which its day rows are simply summed (a few thousand)
SEEDS = 100  # products (shops) by ceiling whose period sums set the floor


@dataclass(frozen=True)
class TopList:
    """A top list read from a sales roll-up: ordered by GMV, then ``order`` (the plain read's
    tie-breakers), each row with the organization's ``organization_fields``."""

    rollup: SalesRollup
    order: tuple[str, ...]
    organization_fields: tuple[str, ...]


TOP_PRODUCTS = TopList(PRODUCTS, ("sku", "organization_id"), ("name",))
TOP_SHOPS = TopList(SHOPS, ("organization_id",), ("name", "kind"))


def creator_top_products(creator: Creator, start: datetime.date, end: datetime.date, limit: int = 10) -> list[dict]:
    """``ProductSale.objects.top_products()`` from the roll-up (see the module's notes)."""
    return top_list(TOP_PRODUCTS, creator, start, end, limit)[0]


def creator_top_shops(creator: Creator, start: datetime.date, end: datetime.date, limit: int = 10) -> list[dict]:
    """``ProductSale.objects.top_organizations()`` from the roll-up (see the module's notes)."""
    return top_list(TOP_SHOPS, creator, start, end, limit)[0]


def top_list(
    top: TopList,
    creator: Creator,
    start: datetime.date,
    end: datetime.date,
    limit: int = 10,
    *,
    prune_from: int = PRUNE_FROM,
    seeds: int = SEEDS,
    cap: int | None = None,
) -> tuple[list[dict], bool]:
    """The top list's rows, and whether the pruned plan found them. ``prune_from``, ``seeds`` and
    ``cap`` (at most this many candidates; None: as many as the period has livestreams) tune the
    plan; the rows are the same whatever they are (the tests vary them)."""
    if limit < 0:
        raise ValueError("Negative indexing is not supported.")
    if limit == 0:
        return [], False
    using = router.db_for_read(top.rollup.day)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return _top_orm(top, creator, start, end, limit, using), False
    params = {
        "creator": creator.pk,
        "start": start,
        "end": end,
        "year": start.year,
        "spanned": end < datetime.date(start.year + BOUND_YEARS, 1, 1),
        "prune_from": prune_from,
        "seeds": max(seeds, limit),
        "last": limit - 1,
        "cap": cap,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_top_sql(connection, top), params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    pruned = bool(rows) and rows[0]["pruned"]
    for row in rows:
        del row["pruned"]
    return rows, pruned


def _organization_field(name: str) -> Subquery:
    return Subquery(Organization.objects.filter(pk=OuterRef("organization_id")).order_by().values(name)[:1])


def _top_orm(top: TopList, creator: Creator, start: datetime.date, end: datetime.date, limit: int, using: str) -> list:
    return list(
        top.rollup.day.objects.using(using)
        .filter(creator=creator, day__gte=start, day__lte=end)
        .values(*top.rollup.keys)
        .annotate(**top.rollup.period_sums())
        .annotate(**{f"organization__{name}": _organization_field(name) for name in top.organization_fields})
        .order_by("-gmv", *top.order)[:limit]
    )


_SQL: dict[tuple[str, str], str] = {}


def _top_sql(connection, top: TopList) -> str:
    """The top list's one statement (PostgreSQL), generated once from the roll-up's definition."""
    key = (connection.alias, top.rollup.day._meta.label)
    if key not in _SQL:
        _SQL[key] = _build_top_sql(connection, top)
    return _SQL[key]


def _build_top_sql(connection, top: TopList) -> str:
    quote = connection.ops.quote_name
    rollup = top.rollup
    day, bound = quote(rollup.day._meta.db_table), quote(rollup.bound._meta.db_table)
    totals, organizations = quote(CreatorDay._meta.db_table), quote(Organization._meta.db_table)
    keys = [quote(rollup.day._meta.get_field(name).column) for name in rollup.keys]
    columns = [quote(name) for name in rollup.sums]
    period = []
    for name, aggregate in rollup.period_sums().items():
        integer = isinstance(rollup.day._meta.get_field(name), models.IntegerField)
        cast = "::bigint" if integer and aggregate.function == "SUM" else ""  # sum(bigint) is numeric
        period.append(f"{aggregate.function.lower()}(d.{quote(name)}){cast} AS {quote(name)}")
    sums = ", ".join(period)
    in_period = "d.creator_id = %(creator)s AND d.day >= %(start)s AND d.day <= %(end)s"

    def listed(alias: str, items: list[str]) -> str:
        return ", ".join(f"{alias}{item}" for item in items)

    def same_key(other: str) -> str:
        return " AND ".join(f"d.{column} = {other}.{column}" for column in keys)

    order = ", ".join(["top.gmv DESC", *(f"top.{quote(name)}" for name in top.order)])
    fields = ", ".join(f"o.{quote(name)} AS {quote('organization__' + name)}" for name in top.organization_fields)
    return " ".join(
        [
            f"WITH period AS (SELECT coalesce(sum(livestreams), 0) AS n FROM {totals}",
            "WHERE creator_id = %(creator)s AND day >= %(start)s AND day <= %(end)s),",
            # The floor: the limit-th best period GMV among the seeds (those with the highest ceilings).
            f"seeds AS MATERIALIZED (SELECT s.gmv FROM (SELECT {listed('', keys)} FROM {bound}",
            "WHERE creator_id = %(creator)s AND year = %(year)s AND %(spanned)s",
            "AND (SELECT n FROM period) > %(prune_from)s ORDER BY gmv DESC LIMIT %(seeds)s) AS b",
            f"CROSS JOIN LATERAL (SELECT sum(d.gmv) AS gmv FROM {day} AS d WHERE {in_period} AND {same_key('b')}) AS s",
            "WHERE s.gmv IS NOT NULL),",
            "floor AS (SELECT gmv FROM seeds ORDER BY gmv DESC LIMIT 1 OFFSET %(last)s),",
            # The candidates: every key whose ceiling reaches the floor (a capped number).
            f"candidates AS MATERIALIZED (SELECT {listed('', keys)} FROM {bound}",
            "WHERE creator_id = %(creator)s AND year = %(year)s AND gmv >= (SELECT gmv FROM floor)",
            "LIMIT coalesce(%(cap)s, (SELECT n FROM period)) + 1),",
            "plan AS (SELECT EXISTS (SELECT FROM floor) AND (SELECT count(*) FROM candidates)",
            "<= coalesce(%(cap)s, (SELECT n FROM period)) AS pruned)",
            f"SELECT top.*, {fields},",
            "(SELECT pruned FROM plan) AS pruned FROM (",
            # Pruned: the candidates' sums over the period.
            f"SELECT {listed('c.', keys)}, {listed('t.', columns)} FROM candidates AS c",
            f"CROSS JOIN LATERAL (SELECT {sums}, count(*) AS n FROM {day} AS d",
            f"WHERE {in_period} AND {same_key('c')}) AS t",
            "WHERE (SELECT pruned FROM plan) AND t.n > 0",
            # Direct: every day row of the period, grouped.
            f"UNION ALL SELECT {listed('d.', keys)}, {sums} FROM {day} AS d",
            f"WHERE {in_period} AND NOT (SELECT pruned FROM plan) GROUP BY {listed('d.', keys)}",
            f"ORDER BY gmv DESC, {', '.join(quote(name) for name in top.order)} LIMIT %(limit)s) AS top",
            f"JOIN {organizations} AS o ON o.id = top.organization_id ORDER BY {order}",
        ]
    )
