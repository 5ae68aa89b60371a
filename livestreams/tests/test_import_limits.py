"""Hostile import files (issue 12, items 5 and 8): a line longer than the limit is rejected without
being held in memory, reading stops at the maximum (decompressed) size, memory is bounded by the
chunk, not the file — proved under an address-space cap with a gzip bomb and a 200 MB line — and a
key given twice in a line is rejected, naming it."""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from livestreams import importer
from livestreams.importer import import_lines, read_lines
from livestreams.models import Livestream

from .test_import import make_record, parties  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def dumps(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


def run_lines(data: bytes, *, max_line_bytes: int, max_bytes: int = 10**9):
    return import_lines(read_lines(io.BytesIO(data), max_line_bytes=max_line_bytes, max_bytes=max_bytes))


# --- duplicate keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"external_id": "ls-1", "external_id": "ls-2", REST}', "external_id"),
        ('{"title": "第一", REST, "title": "第二"}', "title"),
        ('{REST, "totals": {"viewers": 1, "viewers": 2, "peak_online": 1, "avg_watch_seconds": 1, '
         '"new_followers": 1}}', "totals.viewers"),
    ],
)  # fmt: skip
def test_a_key_given_twice_is_rejected_naming_it(parties, text, field):  # noqa: F811
    record = make_record("ls-1")
    key = field.split(".")[0]
    rest = json.dumps({k: v for k, v in record.items() if k != key and not (key == "totals" and k == "totals")})
    line = text.replace("REST", rest[1:-1])
    result = import_lines([line.encode()])
    assert (result.created, result.rejected) == (0, 1)
    assert result.errors == [f"line 1: {field}: duplicate key"]
    assert not Livestream.objects.exists()


def test_a_key_given_twice_deep_inside_is_named_by_its_path(parties):  # noqa: F811
    record = make_record("ls-1")
    line = json.dumps(record).replace('"online": ', '"online": 1, "online": ', 1)
    result = import_lines([line])
    assert result.errors == ["line 1: minutes[0].online: duplicate key"]


def test_the_same_key_in_two_objects_is_fine(parties):  # noqa: F811
    assert import_lines([dumps(make_record("ls-1"))]).created == 1


# --- the longest line ------------------------------------------------------------------------------


def test_a_line_at_the_limit_is_read_and_one_byte_more_is_rejected(parties):  # noqa: F811
    good = dumps(make_record("ls-1"))
    limit = len(good) - 1  # the line break is not counted
    padded = dumps({**make_record("ls-2"), "title": "x"})
    longer = padded[:-1].replace(b'"title": "x"', b'"title": "' + b"y" * (limit - len(padded) + 3) + b'"') + b"\n"
    assert len(longer) - 1 == limit + 1
    result = run_lines(good + longer + dumps(make_record("ls-3")), max_line_bytes=limit)
    assert (result.created, result.rejected) == (2, 1)
    assert result.errors == [f"line 2: record: line longer than {limit} bytes"]
    assert set(Livestream.objects.values_list("external_id", flat=True)) == {"ls-1", "ls-3"}


def test_a_last_line_without_a_line_break_counts_the_same(parties):  # noqa: F811
    good = dumps(make_record("ls-1"))[:-1]
    assert run_lines(good, max_line_bytes=len(good)).created == 1
    assert run_lines(good, max_line_bytes=len(good) - 1).errors == [
        f"line 1: record: line longer than {len(good) - 1} bytes"
    ]


def test_reading_stops_at_the_maximum_size(parties):  # noqa: F811
    lines = [dumps(make_record(f"ls-{i}")) for i in range(4)]
    limit = len(lines[0]) + len(lines[1]) + 10  # inside the third line
    result = run_lines(b"".join(lines), max_line_bytes=MiB, max_bytes=limit)
    assert (result.created, result.rejected) == (2, 1)
    assert result.errors == [
        f"line 3: record: the file is larger than {limit} bytes (decompressed): this line and the rest are not read"
    ]


def test_the_command_takes_the_limits_as_options(parties, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "two.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(dumps(make_record("ls-1")) + b'{"x": "' + b"z" * 5000 + b'"}\n')
    with pytest.raises(CommandError):
        call_command("import_livestreams", str(path), "--max-line-bytes", "4000")
    assert "line 2: record: line longer than 4000 bytes" in capsys.readouterr().err
    assert Livestream.objects.filter(external_id="ls-1").exists()


# --- memory: bounded by the chunk, not by the file ---------------------------------------------------

UNDER_CAP = """
import resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import django
django.setup()
from django.core.management import call_command
from django.core.management.base import CommandError
try:
    call_command("import_livestreams", *sys.argv[2:])
except CommandError as error:
    print(f"exit: {error}", file=sys.stderr)
# VmHWM: this process's peak resident memory since exec (getrusage would count the forking parent's).
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
print(f"peak_rss_mb: {int(peak) // 1024}", file=sys.stderr)
"""
CAP = 320 * MiB  # the address space the import may use (the interpreter and Django take ~250 MiB of it)


def import_under_cap(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", UNDER_CAP, str(CAP), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def gzip_member(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip member; members concatenate
    return compressor.compress(data) + compressor.flush()


def test_a_gzip_bomb_stops_at_the_maximum_size_under_a_memory_cap(tmp_path):
    """A 1 GiB line in a 1 MB .gz, then 200 lines of 10 MiB: rejected, reading stopped at 256 MiB,
    a message and the summary, within the cap (the old importer needed the whole line in memory)."""
    bomb = tmp_path / "bomb.jsonl.gz"
    one_gib_line = gzip_member(b"x" * 64 * MiB) * 16 + gzip_member(b"\n")
    bomb.write_bytes(one_gib_line + gzip_member(b"x" * 10 * MiB + b"\n") * 200)
    assert bomb.stat().st_size < 4 * MiB
    result = import_under_cap(str(bomb), "--max-bytes", str(256 * MiB))
    assert "line 1: record: the file is larger than 268435456 bytes (decompressed)" in result.stderr, result.stderr
    assert "MemoryError" not in result.stderr
    assert result.stdout == "created 0, updated 0, rejected 1\n"
    assert "exit: 1 line(s) rejected" in result.stderr


def test_many_long_lines_in_a_gzip_are_each_rejected_under_a_memory_cap(tmp_path):
    bomb = tmp_path / "lines.jsonl.gz"
    bomb.write_bytes(gzip_member(b"x" * 10 * MiB + b"\n") * 20 + gzip_member(b'{"not": "a record"}\n'))
    result = import_under_cap(str(bomb))
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert errors[:20] == [f"line {n}: record: line longer than 4194304 bytes" for n in range(1, 21)], result.stderr
    assert errors[20] == "line 21: not: unknown key"
    assert result.stdout == "created 0, updated 0, rejected 21\n"


def test_a_200_mb_line_is_rejected_under_a_memory_cap(tmp_path):
    path = tmp_path / "long.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"external_id": "ls-1", "minutes": [')
        point = b'{"at": "2026-11-01T19:00:00+08:00", "online": 1200, "entries": 300, "gmv": "1.00", "orders": 1},'
        piece = point * (MiB // len(point))
        for _ in range(201):  # 201 MiB of minute points, written a piece at a time
            handle.write(piece)
        handle.write(b"{}]}\n[1]\n")
    assert path.stat().st_size > 200 * MiB
    result = import_under_cap(str(path))
    assert result.stderr.splitlines()[:2] == [
        "line 1: record: line longer than 4194304 bytes",
        "line 2: record: must be a JSON object",
    ], result.stderr
    assert result.stdout == "created 0, updated 0, rejected 2\n"
    peak = int(result.stderr.rsplit("peak_rss_mb: ", 1)[1])
    assert peak < 120, f"peak RSS {peak} MB"


def test_a_chunk_is_bounded_by_its_bytes_too(parties, monkeypatch):  # noqa: F811
    """Lines without minute points still close a chunk once they hold ``chunk_bytes``."""
    line = dumps({**copy.deepcopy(make_record("ls-0")), "minutes": []})
    lines = [line.replace(b"ls-0", f"ls-{i}".encode()) for i in range(5)]
    runs = []
    write_run = importer._write_run
    monkeypatch.setattr(importer, "_write_run", lambda run: runs.append(len(run)) or write_run(run))
    assert import_lines(lines, chunk_bytes=2 * len(line)).created == 5
    assert runs == [2, 2, 1]
    runs.clear()
    assert import_lines(lines).updated == 5
    assert runs == [5]
