"""Periodic jobs run by the workers (notifications/schedule.py): each run queued once per interval,
the first as soon as a worker starts; ``manage.py worker`` queues and runs ``send_reminders``."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from grants.factories import GrantFactory
from grants.tests.conftest import TODAY, at_shanghai, d
from notifications.models import Message, PeriodicJob
from notifications.schedule import tick

pytestmark = pytest.mark.django_db

HOURLY = {"send_reminders": ("send_reminders", datetime.timedelta(hours=1))}


@override_settings(PERIODIC_JOBS=HOURLY)
def test_a_job_is_due_at_once_then_every_interval():
    with time_machine.travel(at_shanghai(TODAY, 9), tick=False) as traveller:
        assert tick() == ["send_reminders"]
        assert tick() == []  # a second worker ticking the same minute
        traveller.move_to(at_shanghai(TODAY, 9, 59, 59))
        assert tick() == []
        traveller.move_to(at_shanghai(TODAY, 10))
        assert tick(worker="w2") == ["send_reminders"]
        job = PeriodicJob.objects.get()
        assert (job.due_at, job.last_claimed_by) == (at_shanghai(TODAY, 11), "w2")


@override_settings(PERIODIC_JOBS=HOURLY)
def test_a_tick_runs_send_reminders_through_a_task():
    with time_machine.travel(at_shanghai(TODAY, 9), tick=False):
        grant = GrantFactory(ends_on=d(0))
        tick()  # the immediate backend of the tests runs the queued task at once
    assert Message.objects.filter(kind="grant_ends_today").count() == 2
    assert grant.creator.user.inbox_messages.count() == 1


# A transaction test: the worker closes its connection between tasks (close_old_connections), which
# on PostgreSQL ends a test's surrounding transaction.
@pytest.mark.django_db(transaction=True)
@override_settings(PERIODIC_JOBS=HOURLY, TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_the_worker_queues_the_due_jobs_and_runs_them():
    from django_tasks_db.models import DBTaskResult

    # (the real clock: the worker checks its connection's age against it)
    GrantFactory(ends_on=timezone.localdate() + datetime.timedelta(days=7))
    call_command("worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert Message.objects.filter(kind="grant_ends_in_7_days").count() == 2
    assert list(DBTaskResult.objects.values_list("task_path", "status")) == [
        ("notifications.tasks.run_periodic_job", "SUCCESSFUL")
    ]
    call_command("worker", batch=True, reload=False, startup_delay=False, verbosity=0)  # not due again
    assert DBTaskResult.objects.count() == 1


def test_send_reminders_runs_hourly_by_default(settings):
    assert settings.PERIODIC_JOBS["send_reminders"] == ("send_reminders", datetime.timedelta(hours=1))
