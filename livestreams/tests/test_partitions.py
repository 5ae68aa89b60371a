"""The minute table partitioned by month on PostgreSQL (plain on SQLite), its partitions made ahead
of need, and the retention that drops whole months (``livestreams/partitions.py``)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from livestreams import partitions
from livestreams.factories import LivestreamFactory
from livestreams.models import MinutePoint
from livestreams.partitions import Month
from livestreams.views import _minutes

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the minute table is partitioned on PostgreSQL only"
)


def this_month() -> Month:
    return Month.of(timezone.now())


def livestream_at(at: datetime.datetime, minutes: int = 3):
    return LivestreamFactory(started_at=at, minutes=minutes, ended_at=at + datetime.timedelta(minutes=minutes))


def where(livestream) -> dict[str, int]:
    """How many of the livestream's points each partition holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, COUNT(*) FROM livestreams_minutepoint "
            "WHERE livestream_id = %s GROUP BY 1",
            [livestream.pk],
        )
        return dict(cursor.fetchall())


def run(command: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def test_month_boundaries_are_the_platforms_calendar():
    month = Month(2026, 12)
    assert month.start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert month.end == Month(2027, 1).start
    assert Month(2026, 1).plus(-1) == Month(2025, 12)
    assert Month(2026, 12).plus(14) == Month(2028, 2)
    # 2026-11-30 17:00 UTC is already December in Shanghai.
    assert Month.of(datetime.datetime(2026, 11, 30, 17, tzinfo=datetime.UTC)) == Month(2026, 12)
    assert partitions.retention_cutoff(3, datetime.date(2026, 12, 6)).isoformat() == "2026-09-01T00:00:00+08:00"


@on_postgresql
def test_the_minute_table_is_partitioned_with_months_ahead_and_a_default():
    assert partitions.is_partitioned(connection)
    present = partitions.months(connection)
    assert {this_month().plus(n) for n in range(partitions.MONTHS_AHEAD + 1)} <= set(present)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partitions.DEFAULT_PARTITION])
        assert cursor.fetchone()[0]


@on_postgresql
def test_points_written_by_copy_land_in_their_months_partition():
    start = this_month().start + datetime.timedelta(hours=1)
    livestream = livestream_at(start, minutes=5)
    assert where(livestream) == {this_month().name: 5}
    assert list(MinutePoint.objects.filter(livestream=livestream).values_list("at", flat=True)) == [
        start + datetime.timedelta(minutes=n) for n in range(5)
    ]


@on_postgresql
def test_a_livestream_across_a_month_boundary_is_split_between_the_two_months():
    boundary = this_month().end
    livestream = livestream_at(boundary - datetime.timedelta(minutes=2), minutes=4)
    assert where(livestream) == {this_month().name: 2, this_month().plus(1).name: 2}


@on_postgresql
def test_the_unique_minute_still_holds_across_the_partitioned_table():
    livestream = livestream_at(this_month().start, minutes=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        MinutePoint.objects.create(livestream=livestream, at=this_month().start)


@on_postgresql
def test_a_month_without_its_partition_goes_to_the_default_and_moves_when_it_is_made():
    far = this_month().plus(partitions.MONTHS_AHEAD + 3)
    livestream = livestream_at(far.start + datetime.timedelta(days=2), minutes=4)
    assert where(livestream) == {partitions.DEFAULT_PARTITION: 4}

    out = run("minute_partitions", ahead=partitions.MONTHS_AHEAD + 3)
    assert f"created {far.name} (moved 4 rows from the default partition)" in out
    assert where(livestream) == {far.name: 4}
    assert run("minute_partitions", ahead=partitions.MONTHS_AHEAD + 3).startswith("months:")  # nothing to do


@on_postgresql
def test_history_loaded_into_the_default_partition_gets_its_months(settings):
    old = this_month().plus(-5)
    livestream = livestream_at(old.start + datetime.timedelta(days=9), minutes=2)
    assert where(livestream) == {partitions.DEFAULT_PARTITION: 2}
    out = run("minute_partitions", since=str(old))
    assert f"created {old.name} (moved 2 rows from the default partition)" in out
    assert f"created {old.plus(1).name}\n" in out
    assert where(livestream) == {old.name: 2}
    for bad in ("2026-13", "2026", "soon"):
        with pytest.raises(CommandError, match="YYYY-MM"):
            run("minute_partitions", since=bad)


@on_postgresql
def test_the_minutes_of_a_livestream_are_read_from_its_month_by_index():
    """The big screen's query (``views._minutes``) reads only the livestream's month partition, by
    its (livestream, at) index: the other months and the default partition are pruned."""
    livestream = livestream_at(this_month().start + datetime.timedelta(days=1), minutes=5)
    with CaptureQueriesContext(connection) as captured:
        assert len(_minutes(livestream)) == 5
    (query,) = captured.captured_queries
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: ask which index serves it
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert this_month().name in plan
    assert partitions.DEFAULT_PARTITION not in plan
    assert this_month().plus(1).name not in plan
    assert "Index" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_prune_drops_the_months_before_the_retention_and_keeps_the_rest():
    keep = 3
    cutoff = partitions.retention_cutoff(keep)
    old_month = Month.of(cutoff).plus(-2)
    if connection.vendor == "postgresql":
        partitions.create_month(connection, old_month)  # a month with its own partition
    in_old_month = livestream_at(old_month.start + datetime.timedelta(days=3))
    # One point a minute before the cutoff (a month without partition: the default holds it) and
    # two from the cutoff on.
    across = livestream_at(cutoff - datetime.timedelta(minutes=1), minutes=3)
    recent = livestream_at(this_month().start)

    # The foreign keys of the rows just written are checked, as at a real transaction's end (a
    # table with pending checks cannot be dropped; the command runs in a transaction of its own).
    connection.check_constraints()
    partitioned = partitions.is_partitioned(connection)
    # Partitioned, the old month goes whole and the default partition loses its one older row;
    # plain (SQLite), all four older rows are deleted.
    deleted = 1 if partitioned else 4
    dry = run("prune_minutes", months=keep, dry_run=True)
    assert f"would delete {deleted} older rows" in dry
    assert ("would drop " + old_month.name in dry) is partitioned
    assert MinutePoint.objects.count() == 9

    out = run("prune_minutes", months=keep)
    assert MinutePoint.objects.filter(livestream=in_old_month).count() == 0
    assert list(MinutePoint.objects.filter(livestream=across).values_list("at", flat=True)) == [
        cutoff,
        cutoff + datetime.timedelta(minutes=1),
    ]
    assert MinutePoint.objects.filter(livestream=recent).count() == 3
    assert f"deleted {deleted} older rows" in out
    if partitioned:
        assert f"dropped {old_month.name}" in out
        assert old_month not in partitions.months(connection)
        assert this_month() in partitions.months(connection)


def test_prune_needs_a_retention(settings):
    settings.MINUTE_RETENTION_MONTHS = None
    with pytest.raises(CommandError, match="MINUTE_RETENTION_MONTHS"):
        run("prune_minutes")
    with pytest.raises(CommandError):
        run("prune_minutes", months=-1)


def test_prune_takes_the_retention_from_the_setting(settings):
    settings.MINUTE_RETENTION_MONTHS = 1
    old = livestream_at(this_month().plus(-2).start + datetime.timedelta(days=1))
    kept = livestream_at(this_month().plus(-1).start)
    run("prune_minutes")
    assert not MinutePoint.objects.filter(livestream=old).exists()
    assert MinutePoint.objects.filter(livestream=kept).count() == 3


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps the plain table")
def test_on_sqlite_the_table_stays_plain():
    assert not partitions.is_partitioned(connection)
    assert "nothing to do" in run("minute_partitions")
