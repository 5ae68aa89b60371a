"""Writers of the same creator and day, racing, leave the roll-up right (PostgreSQL: real row locks)."""

import datetime
import threading
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction

from livestreams.models import CreatorDay, Livestream
from portal.factories import CreatorFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are tested on PostgreSQL"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def race(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as error:  # noqa: BLE001 - the assertion reports it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_concurrent_writers_of_one_day_are_all_counted():
    creator = CreatorFactory()
    day = datetime.date(2026, 11, 1)

    def write(n):
        def call():
            with transaction.atomic():
                Livestream.objects.create(
                    creator=creator, external_id=f"race-{n}", title="t", viewers=n,
                    started_at=datetime.datetime(2026, 11, 1, 8 + n, tzinfo=SHANGHAI), gmv=Decimal(n),
                )  # fmt: skip
                time.sleep(0.05)  # hold the day's row: the others wait, then sum what this one committed

        return call

    assert race(*[write(n) for n in range(6)]) == []
    row = CreatorDay.objects.get(creator=creator, day=day)
    assert (row.livestreams, row.viewers, row.gmv) == (6, sum(range(6)), Decimal(sum(range(6))))
    # And moving them all away, concurrently, empties the day.
    streams = list(Livestream.objects.filter(creator=creator))

    def move(stream):
        def call():
            with transaction.atomic():
                stream.started_at += datetime.timedelta(days=1)
                stream.save()
                time.sleep(0.02)

        return call

    assert race(*[move(stream) for stream in streams]) == []
    assert not CreatorDay.objects.filter(creator=creator, day=day).exists()
    assert CreatorDay.objects.get(creator=creator, day=day + datetime.timedelta(days=1)).livestreams == 6
