"""``python manage.py import_livestreams FILE``: load livestreams from JSON Lines (see docs/import.md).

FILE may be ``-`` for standard input; a name ending in ``.gz`` is read compressed. Rejected lines
go to standard error as ``line N: field: reason``, with progress every 1,000 lines; standard output
gets the summary ``created X, updated Y, rejected Z``. The exit status is 1 when a line was rejected.

Limits (``--max-line-bytes``, ``--max-bytes``; defaults ``settings.IMPORT_MAX_LINE_BYTES`` and
``IMPORT_MAX_BYTES``, from ``DJANGO_IMPORT_MAX_LINE_BYTES`` / ``DJANGO_IMPORT_MAX_BYTES``): a longer
line is rejected without being held in memory; past the maximum size (decompressed) reading stops.
"""

from __future__ import annotations

import gzip
import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from livestreams.importer import ImportResult, import_lines, read_lines

PROGRESS_EVERY = 1000


class Command(BaseCommand):
    help = "Import livestreams from a JSON Lines file (FILE, '-' for standard input, .gz read compressed)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="JSON Lines file; '-' reads standard input")
        parser.add_argument(
            "--max-line-bytes", type=int, default=None,
            help="longest line accepted, in bytes (default: settings.IMPORT_MAX_LINE_BYTES)",
        )  # fmt: skip
        parser.add_argument(
            "--max-bytes", type=int, default=None,
            help="most bytes read from FILE, decompressed (default: settings.IMPORT_MAX_BYTES)",
        )  # fmt: skip

    def handle(self, *args, file: str, verbosity: int, max_line_bytes=None, max_bytes=None, **options):
        max_line_bytes = max_line_bytes or settings.IMPORT_MAX_LINE_BYTES
        max_bytes = max_bytes or settings.IMPORT_MAX_BYTES
        started = time.monotonic()

        def progress(result: ImportResult) -> None:
            if verbosity >= 1:
                self.stderr.write(f"… {result.lines} lines: {result.summary()}", style_func=lambda text: text)

        with _open(file) as handle:
            result = import_lines(
                read_lines(handle, max_line_bytes=max_line_bytes, max_bytes=max_bytes),
                on_error=self.stderr.write,
                on_progress=progress,
                progress_every=PROGRESS_EVERY,
            )

        elapsed = time.monotonic() - started
        if verbosity >= 2:
            rate = result.minutes / elapsed if elapsed else 0
            self.stderr.write(
                f"{result.minutes} minute points in {elapsed:.2f}s ({rate:,.0f} rows/s)", style_func=lambda text: text
            )
        self.stdout.write(result.summary())
        if result.rejected:
            raise CommandError(f"{result.rejected} line(s) rejected", returncode=1)


@contextmanager
def _open(name: str):
    """Binary lines of FILE: standard input for '-', gzip for '.gz'."""
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb")  # noqa: SIM115
    except OSError as error:
        raise CommandError(f"cannot read {name}: {error.strerror or error}") from error
    with handle:
        try:
            yield handle
        except (OSError, EOFError) as error:
            # A corrupt or truncated .gz fails while it is being read.
            raise CommandError(f"cannot read {name}: {error}") from error
