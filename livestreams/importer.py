"""Livestream import (JSON Lines, one livestream per line): validation, then upserts in chunks.

The format and its rules are in ``docs/import.md`` (and the shared DATA-FORMAT.md). A line is
parsed (``import_values.parse_line()``) and cleaned completely (``import_records.clean_record()``),
which returns a ``LivestreamRecord`` or raises ``RecordError`` naming the field path
(``audience.age``, ``products[2].gmv``) and the reason; only clean records are written, a chunk of
them in one transaction by ``writes.upsert_livestreams()`` (one statement or COPY per table; the
roll-up and the requests' creator kept in step there). ``import_lines()`` reads lines in chunks,
cleans them, writes each chunk's clean records, and falls back to one transaction per record for a
chunk that hits a database error, so that only the offending line is rejected.

Memory is bounded by the chunk, not by the file: ``read_lines()`` never holds more than one line of
at most ``max_line_bytes`` (a longer one is skipped in pieces and rejected), stops reading once the
file has given ``max_bytes`` (decompressed: a gzip bomb is cut there), and a chunk holds at most
``chunk_bytes`` of lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import DatabaseError, transaction

from .import_records import Directory, clean_record
from .import_values import RecordError, parse_line
from .writes import LivestreamRecord, upsert_livestreams

CHUNK_LINES = 200  # lines read, cleaned and written together (one transaction per chunk)
CHUNK_MINUTES = 50_000  # ... or fewer lines, when they hold this many minute points
CHUNK_BYTES = 8 * 1024 * 1024  # ... or this many bytes of lines (parsed, a few times more in memory)
SKIP_PIECE = 1024 * 1024  # a line too long is read past in pieces of this size


def read_lines(handle: IO[bytes], *, max_line_bytes: int, max_bytes: int) -> Iterator[bytes | RecordError]:
    """The physical lines of a binary file, each of at most ``max_line_bytes`` (its line break not
    counted); a longer line is read past in pieces, never held whole, and comes out as a
    ``RecordError`` in its place (so it keeps its line number). Once ``max_bytes`` have been read (of
    the decompressed text, for a ``.gz``), the line being read comes out as a ``RecordError`` and
    nothing more is read."""
    total = 0

    def too_big() -> RecordError:
        return RecordError(
            "record", f"the file is larger than {max_bytes} bytes (decompressed): this line and the rest are not read"
        )

    while True:
        line = handle.readline(max_line_bytes + 1)
        if not line:
            return
        total += len(line)
        if total > max_bytes:
            yield too_big()
            return
        if len(line) <= max_line_bytes or line.endswith(b"\n"):
            yield line
            continue
        while not line.endswith(b"\n"):
            line = handle.readline(SKIP_PIECE)
            if not line:
                break
            total += len(line)
            if total > max_bytes:
                yield too_big()
                return
        yield RecordError("record", f"line longer than {max_line_bytes} bytes")


@transaction.atomic
def save_record(record: LivestreamRecord) -> bool:
    """Upsert one livestream by external_id with all its rows, in one transaction; True if created."""
    return upsert_livestreams([record])[0]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rejected: int = 0
    minutes: int = 0
    errors: list[str] = field(default_factory=list)  # kept only when no on_error callback is given

    @property
    def lines(self) -> int:
        return self.created + self.updated + self.rejected

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, rejected {self.rejected}"


# What became of a line: its error message, or (created, minute points written).
Outcome = str | tuple[bool, int]


def import_lines(
    lines: Iterable[bytes | str | RecordError],
    *,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[ImportResult], None] | None = None,
    progress_every: int = 1000,
    chunk_lines: int = CHUNK_LINES,
    chunk_minutes: int = CHUNK_MINUTES,
    chunk_bytes: int = CHUNK_BYTES,
) -> ImportResult:
    """Import JSON Lines; each error is ``line N: field: reason`` (N counts every physical line).

    Blank lines are skipped and counted nowhere. Every other line is created, updated or rejected.
    Lines are read in chunks (``chunk_lines``, or fewer holding ``chunk_minutes`` minute points or
    ``chunk_bytes`` bytes), and each chunk's clean records written together; a ``RecordError``
    among the lines (``read_lines()``'s refusal of a line) rejects that line; errors, counts and
    progress are reported in line order after each chunk, exactly as if the lines had been imported one after another.
    """
    result = ImportResult()
    directory = Directory()
    for chunk in _chunks(lines, chunk_lines, chunk_minutes, chunk_bytes):
        outcomes, runs = _clean_chunk(chunk, directory)
        for run in runs:
            outcomes.update(_write_run(run))
        for number, _data in chunk:
            outcome = outcomes[number]
            if isinstance(outcome, str):
                _reject(result, outcome, on_error)
            else:
                created, minutes = outcome
                result.minutes += minutes
                if created:
                    result.created += 1
                else:
                    result.updated += 1
            if on_progress is not None and result.lines % progress_every == 0:
                on_progress(result)
    return result


def _chunks(
    lines: Iterable[bytes | str | RecordError], chunk_lines: int, chunk_minutes: int, chunk_bytes: int
) -> Iterator[list[tuple[int, Any]]]:
    """The non-blank lines, parsed, in chunks: (line number, JSON value or the RecordError of parsing it)."""
    chunk: list[tuple[int, Any]] = []
    size = length = 0
    for number, line in enumerate(lines, start=1):
        if isinstance(line, RecordError):
            data = line
        elif not line.strip():
            continue
        else:
            length += len(line)
            try:
                data = parse_line(line)
            except RecordError as error:
                data = error
            else:
                minutes = data.get("minutes") if type(data) is dict else None
                if type(minutes) is list:
                    size += len(minutes)
        chunk.append((number, data))
        if len(chunk) >= chunk_lines or size >= chunk_minutes or length >= chunk_bytes:
            yield chunk
            chunk, size, length = [], 0, 0
    if chunk:
        yield chunk


def _clean_chunk(
    chunk: list[tuple[int, Any]], directory: Directory
) -> tuple[dict[int, Outcome], list[list[tuple[int, LivestreamRecord]]]]:
    """The rejected lines' outcomes, and the clean records in runs to write, each a transaction.

    A run holds distinct external_ids: a repeated one starts a new run, so that the later line
    updates what the earlier one wrote, as when the lines are imported one after another.
    """
    directory.prefetch(data for _number, data in chunk)
    outcomes: dict[int, Outcome] = {}
    runs: list[list[tuple[int, LivestreamRecord]]] = [[]]
    ids: set[str] = set()
    for number, data in chunk:
        if isinstance(data, RecordError):
            outcomes[number] = f"line {number}: {data.field}: {data.reason}"
            continue
        try:
            record = clean_record(data, directory)
        except RecordError as error:
            outcomes[number] = f"line {number}: {error.field}: {error.reason}"
            continue
        except DatabaseError as error:
            outcomes[number] = _database_error(number, error)
            continue
        if record.external_id in ids:
            runs.append([])
            ids = set()
        runs[-1].append((number, record))
        ids.add(record.external_id)
    return outcomes, [run for run in runs if run]


def _write_run(run: list[tuple[int, LivestreamRecord]]) -> dict[int, Outcome]:
    """Write records with distinct external_ids in one transaction; if the database refuses it, each
    record in its own transaction, so that only the lines it refuses are rejected."""
    try:
        with transaction.atomic():
            created = upsert_livestreams([record for _number, record in run])
    except DatabaseError as error:
        if len(run) == 1:
            return {run[0][0]: _database_error(run[0][0], error)}
        outcomes: dict[int, Outcome] = {}
        for number, record in run:
            try:
                created_one = save_record(record)
            except DatabaseError as error:
                outcomes[number] = _database_error(number, error)
            else:
                outcomes[number] = (created_one, len(record.minutes))
        return outcomes
    return {number: (new, len(record.minutes)) for (number, record), new in zip(run, created, strict=True)}


def _database_error(number: int, error: DatabaseError) -> str:
    return f"line {number}: record: database error: {str(error).strip()}"


def _reject(result: ImportResult, message: str, on_error: Callable[[str], None] | None) -> None:
    result.rejected += 1
    if on_error is not None:
        on_error(message)
    else:
        result.errors.append(message)
