"""Two runs of the reminder job at the same moment (PostgreSQL: real transactions, real unique
index waits): every reminder is written once, whichever run gets there first."""

import threading
from collections import Counter

import pytest
import time_machine
from django.db import connection, connections

from grants import reminders
from grants.factories import GrantFactory, GrantRequestFactory
from grants.models import Reminder
from notifications.models import Message, PeriodicJob
from notifications.schedule import tick

from .conftest import TODAY, at_shanghai, d

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent runs are tested on PostgreSQL"),
]


def together(n, call):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is the assertion
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_runs_send_each_reminder_once():
    with time_machine.travel(at_shanghai(TODAY, 9), tick=False):
        grants = [GrantFactory(ends_on=d(7 if i % 2 else 0)) for i in range(30)]
        with time_machine.travel(at_shanghai(d(-5), 8), tick=False):
            requests = [GrantRequestFactory() for _ in range(5)]
        for round_ in range(2):  # the second round: everything already sent, nothing more
            results = together(4, lambda: reminders.send_reminders(batch_size=4))
            assert not [r for r in results if isinstance(r, Exception)], results
            if round_ == 0:
                assert sum(sum(r.values()) for r in results) == 2 * len(grants) + len(requests)
            else:
                assert all(sum(r.values()) == 0 for r in results)
    per_reminder = Counter(Message.objects.values_list("kind", "recipient_id", "link"))
    assert len(per_reminder) == 2 * len(grants) + len(requests)
    assert set(per_reminder.values()) == {1}
    assert Reminder.objects.count() == 2 * len(grants) + len(requests)
    for grant in grants:
        assert Message.objects.filter(recipient=grant.creator.user).count() == 1
        assert Message.objects.filter(recipient=grant.organization.main_account).count() == 1


def test_concurrent_ticks_queue_a_due_job_once(settings):
    settings.PERIODIC_JOBS = {"nothing": ("check", __import__("datetime").timedelta(hours=1))}
    with time_machine.travel(at_shanghai(TODAY, 9), tick=False):
        results = together(4, lambda: tick(worker="w"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(map(len, results)) == [0, 0, 0, 1]
    assert PeriodicJob.objects.get().due_at == at_shanghai(TODAY, 10)
