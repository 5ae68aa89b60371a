"""The creator roll-up (``CreatorDay``): what it holds, defined once, and its one writer.

``SUMS`` is the definition: each CreatorDay column and the aggregate over the livestreams of the
row's creator that started on the row's day (Asia/Shanghai) that it holds. Everything else is
derived from it: ``refresh_creator_days()`` (PostgreSQL statements generated from it, and the
portable ORM path that annotates with it), ``rebuild_creator_days()`` and ``stale_creator_days()``
(a bulk load's fill and its check, the bench's), and the roll-up reads in ``livestreams.speedups``,
which re-sum the columns.

``livestreams.writes`` calls ``refresh_creator_days()`` in the transaction of every write that
changes what a row sums; nothing calls it behind the caller's back.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import connections, models, router, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import CreatorDay, Livestream, local_day, local_midnight

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
    """Recompute the roll-up rows of ``keys``, (creator id, day) pairs, from the livestreams.

    The one writer of the roll-up. Call it in the transaction that changed the livestreams, after
    the change, with every (creator id, start day) a changed livestream had before and has after
    (``local_day(started_at)``).

    A constant number of statements for any number of keys: lock the rows (an upsert, in key
    order, so two writers of an overlapping set take turns and the later one sums what the earlier
    committed), sum the livestreams of those days into them, delete the rows of days left without
    livestreams. On PostgreSQL three SQL statements over arrays of the keys, whose text does not
    grow with them; elsewhere (SQLite, one writer at a time) the same steps through the ORM.
    """
    keys = sorted(set(keys))
    if not keys:
        return
    using = using or router.db_for_write(CreatorDay)
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            _refresh_sql(connection, keys)
        else:
            _refresh_orm(using, keys)


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


def _refresh_orm(using: str, keys: list[Key]) -> None:
    rows = CreatorDay.objects.using(using)
    unique = ["creator", "day"]
    first = next(iter(SUMS))
    rows.bulk_create(
        [CreatorDay(creator_id=creator_id, day=day) for creator_id, day in keys],
        update_conflicts=True, unique_fields=unique, update_fields=[first],
    )  # fmt: skip
    runs = _day_runs(keys)
    sums: dict[Key, dict] = {}
    for index in range(0, len(runs), RUNS_PER_QUERY):
        match = Q()
        for creator_id, first_day, last_day in runs[index : index + RUNS_PER_QUERY]:
            match |= Q(
                creator_id=creator_id,
                started_at__gte=local_midnight(first_day),
                started_at__lt=local_midnight(last_day + datetime.timedelta(days=1)),
            )
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
    writers, such as the bench's ``COPY``); returns how many rows the roll-up then has."""
    using = using or router.db_for_write(CreatorDay)
    keys = {
        (creator_id, local_day(started_at))
        for creator_id, started_at in Livestream.objects.using(using).order_by().values_list("creator_id", "started_at")
    }
    keys.update(CreatorDay.objects.using(using).values_list("creator_id", "day"))
    refresh_creator_days(keys, using=using)
    return CreatorDay.objects.using(using).count()
