"""``python manage.py minute_partitions``: the minute table's month partitions ready ahead of need.

Creates the partition of this month and of the ``--ahead`` months after it (3) where missing, and
moves into each new month the rows the default partition took while it was missing. Idempotent:
run it daily (cron, or a worker's periodic task); with nothing to do it reads one catalog query.
On SQLite (no partitions) it says so and does nothing. See ``livestreams/partitions.py``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from livestreams import partitions


class Command(BaseCommand):
    help = "Create the minute table's month partitions ahead of need (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead", type=int, default=partitions.MONTHS_AHEAD, help="months after this one to prepare (default 3)"
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, ahead: int, database: str, **options):
        if ahead < 0:
            raise CommandError("--ahead: a number of months, 0 or more")
        connection = connections[database]
        if not partitions.is_partitioned(connection):
            self.stdout.write("The minute table is not partitioned on this database: nothing to do.")
            return
        for month, moved in partitions.ensure_months(connection, ahead=ahead):
            self.stdout.write(
                f"created {month.name}" + (f" (moved {moved} rows from the default partition)" if moved else "")
            )
        present = partitions.months(connection)
        self.stdout.write(
            f"months: {present[0]} … {present[-1]} ({len(present)} partitions)" if present else "months: none"
        )
