"""``python manage.py minute_partitions``: the minute table's month partitions ready ahead of need.

Creates the partition of this month and of the ``--ahead`` months after it (3) where missing, and
moves into each new month the rows the default partition took while it was missing; ``--since
YYYY-MM`` starts earlier (history loaded after the migration went to the default partition). Idempotent:
run it daily (cron, or a worker's periodic task); with nothing to do it reads one catalog query.
On SQLite (no partitions) it says so and does nothing. See ``livestreams/partitions.py``.
"""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from livestreams import partitions


class Command(BaseCommand):
    help = "Create the minute table's month partitions ahead of need (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead", type=int, default=partitions.MONTHS_AHEAD, help="months after this one to prepare (default 3)"
        )
        parser.add_argument("--since", default=None, help="the first month to prepare, YYYY-MM (default: this one)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, ahead: int, since: str | None, database: str, **options):
        if ahead < 0:
            raise CommandError("--ahead: a number of months, 0 or more")
        first = None
        if since is not None:
            match = re.fullmatch(r"(\d{4})-(\d{2})", since)
            if match is None or not 1 <= int(match[2]) <= 12:
                raise CommandError("--since: a month as YYYY-MM")
            first = partitions.Month(int(match[1]), int(match[2]))
        connection = connections[database]
        if not partitions.is_partitioned(connection):
            self.stdout.write("The minute table is not partitioned on this database: nothing to do.")
            return
        for month, moved in partitions.ensure_months(connection, ahead=ahead, since=first):
            self.stdout.write(
                f"created {month.name}" + (f" (moved {moved} rows from the default partition)" if moved else "")
            )
        present = partitions.months(connection)
        self.stdout.write(
            f"months: {present[0]} … {present[-1]} ({len(present)} partitions)" if present else "months: none"
        )
