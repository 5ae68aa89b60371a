"""The minute table partitioned by month (PostgreSQL; SQLite keeps the plain table).

``livestreams_minutepoint`` is the largest table (a platform's livestreams make ~10^8 points a
day). On PostgreSQL it is partitioned by range of ``at``, one partition per calendar month of the
platform's time zone (``TIME_ZONE``, Asia/Shanghai: a month starts at 00:00 on its 1st there), named
``livestreams_minutepoint_pYYYYMM``, plus a default partition for rows of a month that has none yet.
Nothing outside sees it: the model, the importer's ``COPY`` into the table and every query are the
ones of the plain table; PostgreSQL routes each row to its month and prunes the months a query's
``at`` bounds exclude.

- **Ahead of need**: the migration creates the months from the oldest point to three months
  ahead; ``manage.py minute_partitions`` (daily from cron or a worker: idempotent, a few
  milliseconds when there is nothing to do) keeps ``--ahead`` months (3) ready. Should it stop
  running, rows of later months go to the default partition and nothing fails; its next run
  moves them into their new month (``create_month``).
- **Retention**: ``manage.py prune_minutes`` drops whole months older than
  ``MINUTE_RETENTION_MONTHS`` (or ``--months``): a ``DROP TABLE`` per month, no row-by-row delete, no
  bloat; on SQLite (and for the default partition) a ``DELETE`` of the same rows.
- **Keys**: a partitioned table's unique constraints must contain the partition key: the primary
  key is ``(id, at)`` (``id`` stays unique in practice: it comes from one identity sequence, and
  Django looks rows up by it as before); the unique ``(livestream, at)`` already contains ``at``.
  The foreign key to the livestream stays (PostgreSQL supports foreign keys *from* a partitioned
  table; nothing references the minute table), deferred as Django made it.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

TABLE = "livestreams_minutepoint"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTH_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")
MONTHS_AHEAD = 3


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: datetime.datetime | datetime.date) -> Month:
        if isinstance(moment, datetime.datetime):
            moment = moment.astimezone(zone()).date()
        return cls(moment.year, moment.month)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def name(self) -> str:
        return f"{TABLE}_p{self.year:04d}{self.month:02d}"

    @property
    def start(self) -> datetime.datetime:
        """00:00 on the 1st in the platform's time zone."""
        return datetime.datetime(self.year, self.month, 1, tzinfo=zone())

    @property
    def end(self) -> datetime.datetime:
        return self.plus(1).start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _literal(moment: datetime.datetime) -> str:
    return "'" + moment.isoformat(sep=" ") + "'"  # an exact instant, offset included


def is_partitioned(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [TABLE])
        return cursor.fetchone()[0]


def months(connection) -> list[Month]:
    """The month partitions that exist, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(Month(int(m[1]), int(m[2])) for m in map(MONTH_NAME.match, names) if m)


def create_month(connection, month: Month) -> int:
    """Create ``month``'s partition (nothing if it exists); rows of that month waiting in the default
    partition move into it, in one transaction. Returns how many moved."""
    q = connection.ops.quote_name
    start, end = _literal(month.start), _literal(month.end)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [month.name])
        if cursor.fetchone()[0]:
            return 0
        in_month = f"at >= {start} AND at < {end}"
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {q(DEFAULT_PARTITION)} WHERE {in_month})")  # noqa: S608
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {q(month.name)} PARTITION OF {q(TABLE)} FOR VALUES FROM ({start}) TO ({end})")
            return 0
        # Rows of the month arrived before its partition (the default took them): move them.
        cursor.execute(f"CREATE TABLE {q(month.name)} (LIKE {q(TABLE)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {q(DEFAULT_PARTITION)} WHERE {in_month} RETURNING *) "  # noqa: S608
            f"INSERT INTO {q(month.name)} SELECT * FROM moved"
        )
        moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {q(TABLE)} ATTACH PARTITION {q(month.name)} FOR VALUES FROM ({start}) TO ({end})")
        return moved


def ensure_months(connection, *, ahead: int = MONTHS_AHEAD, since: Month | None = None) -> list[tuple[Month, int]]:
    """Every month from ``since`` (default: this month) to ``ahead`` months after this one has its
    partition; returns the months created, with the rows each took from the default partition."""
    now = Month.of(datetime.datetime.now(tz=zone()))
    month, last = since or now, now.plus(ahead)
    existing = set(months(connection))
    created = []
    while month <= last:
        if month not in existing:
            created.append((month, create_month(connection, month)))
        month = month.plus(1)
    return created


def retention_cutoff(keep_months: int, today: datetime.date | None = None) -> datetime.datetime:
    """The start of the oldest month kept: the current month and the ``keep_months`` before it stay."""
    today = today or datetime.datetime.now(tz=zone()).date()
    return Month.of(today).plus(-keep_months).start


def prune(connection, *, cutoff: datetime.datetime, dry_run: bool = False) -> tuple[list[Month], int]:
    """Drop every month partition that ends at or before ``cutoff``, and delete older rows from the
    default partition (on a plain table: every older row). Returns the months dropped and the rows
    deleted."""
    q = connection.ops.quote_name
    partitioned = is_partitioned(connection)
    dropped = [month for month in months(connection) if month.end <= cutoff] if partitioned else []
    # Rows older than the cutoff outside those months: in the default partition, or anywhere in a
    # plain table (SQLite).
    rest = q(DEFAULT_PARTITION if partitioned else TABLE)
    older = [connection.ops.adapt_datetimefield_value(cutoff)]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if dry_run:
            cursor.execute(f"SELECT COUNT(*) FROM {rest} WHERE at < %s", older)  # noqa: S608
            return dropped, cursor.fetchone()[0]
        for month in dropped:
            cursor.execute(f"ALTER TABLE {q(TABLE)} DETACH PARTITION {q(month.name)}")
            cursor.execute(f"DROP TABLE {q(month.name)}")
        cursor.execute(f"DELETE FROM {rest} WHERE at < %s", older)  # noqa: S608
        return dropped, cursor.rowcount
