"""``python manage.py prune_minutes``: drop the minute data of whole months past retention.

Keeps this month and the ``MINUTE_RETENTION_MONTHS`` before it (``--months`` overrides the
setting; one of them is required). On PostgreSQL each older month partition is detached and
dropped — no row-by-row delete, no bloat — and older rows still in the default partition are
deleted; on SQLite the older rows are deleted. ``--dry-run`` says what would go. The livestreams and
their totals stay: only their minute curves go. See ``livestreams/partitions.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from livestreams import partitions


class Command(BaseCommand):
    help = "Drop minute data of whole months older than the retention (MINUTE_RETENTION_MONTHS or --months)."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=None, help="months kept before this one")
        parser.add_argument("--dry-run", action="store_true", help="say what would be dropped, drop nothing")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, months: int | None, dry_run: bool, database: str, **options):
        keep = months if months is not None else settings.MINUTE_RETENTION_MONTHS
        if keep is None:
            raise CommandError("No retention: set MINUTE_RETENTION_MONTHS or pass --months N.")
        if keep < 0:
            raise CommandError("--months: a number of months, 0 or more")
        cutoff = partitions.retention_cutoff(keep)
        dropped, deleted = partitions.prune(connections[database], cutoff=cutoff, dry_run=dry_run)
        verb = "would drop" if dry_run else "dropped"
        self.stdout.write(f"keeping minute data from {cutoff:%Y-%m-%d %H:%M %Z} ({keep} months before this one)")
        for month in dropped:
            self.stdout.write(f"{verb} {month.name}")
        self.stdout.write(f"{'would delete' if dry_run else 'deleted'} {deleted} older rows outside them")
