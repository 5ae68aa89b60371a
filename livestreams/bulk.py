"""Plain rows into a table in bulk (``COPY`` on PostgreSQL), and the sums a livestream's products make.

The building blocks of ``livestreams.writes``: ``insert_rows()`` skips the ORM's per-row work for
the big tables (minute points by the million); ``cooperations_of()`` and ``total_sums()`` are the
one definition of a cooperation's and a livestream's figures, from its products.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connections, models, router
from django.db.backends.postgresql.psycopg_any import is_psycopg3

from .models import ZERO

# A minute point as the writers take it: (at, online, entries, gmv, orders). ``at`` may also be its
# ISO 8601 text with an offset and ``gmv`` its decimal text (the importer keeps what it validated).
MinuteRow = tuple[datetime.datetime | str, int, int, Decimal | str, int]
MINUTE_COLUMNS = ("livestream", "at", "online", "entries", "gmv", "orders")
BATCH_SIZE = 2000


class Sums(NamedTuple):
    """What sold: money, orders and units (of a cooperation, or of a whole livestream)."""

    gmv: Decimal
    orders: int
    units: int


NOTHING = Sums(ZERO, 0, 0)


def cooperations_of(products: Iterable[tuple[int, Decimal, int, int]], partners: Iterable[int] = ()) -> dict[int, Sums]:
    """The cooperations of a livestream: ``products`` are its products' (organization_id, gmv,
    orders, units), ``partners`` the ids of organizations that worked on it without products.

    Maps each organization whose products sold there, in order of first appearance, to the sums
    of its products, then each partner not already there to zero sums. The one definition of a
    cooperation's figures, used by every writer of products (``livestreams.writes``).
    """
    by_organization: dict[int, list] = {}
    for organization_id, gmv, orders, units in products:
        sums = by_organization.get(organization_id)
        if sums is None:
            by_organization[organization_id] = [gmv, orders, units]
        else:
            sums[0] += gmv
            sums[1] += orders
            sums[2] += units
    result = {
        organization_id: Sums(ZERO + gmv, orders, units)
        for organization_id, (gmv, orders, units) in by_organization.items()
    }
    for organization_id in partners:
        result.setdefault(organization_id, NOTHING)
    return result


def total_sums(cooperations: Iterable[Sums]) -> Sums:
    """A livestream's sums: those of its cooperations (so of all its products)."""
    gmv, orders, units = ZERO, 0, 0
    for sums in cooperations:
        gmv += sums.gmv
        orders += sums.orders
        units += sums.units
    return Sums(gmv, orders, units)


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert plain rows in bulk into ``model``'s table; returns the count.

    ``fields`` names the model fields (a foreign key by its name or attname) in the order of each
    row's values; the values are Python values of those fields (ints, Decimals, aware datetimes,
    strings, a JSON field's data), never None for a non-null column. A datetime or decimal may also
    be given as text the database reads as that value (ISO 8601 with an offset, ``12.50``). On
    PostgreSQL (psycopg 3) one COPY for all the rows, which skips Django's per-value preparation
    and per-row SQL; elsewhere bulk_create in batches. Writes nothing derived: callers do.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql" and is_psycopg3:
        names = ", ".join(connection.ops.quote_name(column.column) for column in columns)
        sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({names}) FROM STDIN"
        json_columns = [(i, column) for i, column in enumerate(columns) if isinstance(column, models.JSONField)]
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                if json_columns:
                    row = list(row)
                    for i, column in json_columns:
                        row[i] = column.get_db_prep_save(row[i], connection)
                write_row(row)
    else:
        attnames = [column.attname for column in columns]
        model.objects.bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=BATCH_SIZE
        )
    return len(rows)
