"""``manage.py worker``: django-tasks-db's ``db_worker`` (same options) with the periodic jobs'
scheduler beside it (``notifications/schedule.py``), so the worker ``make run`` starts also runs
``send_reminders`` every hour. Any number of workers may run: each run of a job is queued once."""

from __future__ import annotations

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from notifications.schedule import Scheduler, tick


class Command(DbWorkerCommand):
    help = "Run a database task worker, and queue the periodic jobs (settings.PERIODIC_JOBS) when due"

    def handle(self, *args, **options):
        worker_id = options["worker_id"]
        if options["batch"]:
            tick(worker=worker_id)  # e.g. from cron: queue what is due, then run the queue
        elif not options["reload"] or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            # (with --reload, only the child that runs the tasks ticks, not the watching parent)
            Scheduler(worker=worker_id).start()
        return super().handle(*args, **options)
