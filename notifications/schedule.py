"""Periodic jobs, run by the task workers themselves (``manage.py worker``): no cron to set up.

``settings.PERIODIC_JOBS`` names each job, the management command it runs and how often::

    PERIODIC_JOBS = {"send_reminders": ("send_reminders", datetime.timedelta(hours=1))}

Adding a job is one line there. Every worker ticks about once a minute (``tick``); a tick claims
each due job with one conditional UPDATE of its ``PeriodicJob`` row (``due_at <= now`` → ``now +
every``) and, in the same transaction, queues a ``run_periodic_job`` task. However many workers
tick at the same moment, the database lets one UPDATE match: each run is queued once, and it runs
on whichever worker takes it (a failed run shows as a failed task; the next one comes at the next
interval). A job's first run is due as soon as a worker starts. The jobs themselves must be safe to
run twice anyway (``send_reminders`` is: a unique index, not this schedule, makes each reminder
exactly once).
"""

from __future__ import annotations

import datetime
import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from .models import PeriodicJob

logger = logging.getLogger(__name__)

TICK_SECONDS = 60


def jobs() -> dict[str, tuple[str, datetime.timedelta]]:
    return dict(getattr(settings, "PERIODIC_JOBS", {}))


def tick(*, now: datetime.datetime | None = None, worker: str = "") -> list[str]:
    """Queue every job that is due, each at most once whoever else ticks; returns the names queued."""
    from .tasks import run_periodic_job  # the task module imports this one's callers

    now = now or timezone.now()
    configured = jobs()
    if not configured:
        return []
    PeriodicJob.objects.bulk_create([PeriodicJob(name=name, due_at=now) for name in configured], ignore_conflicts=True)
    queued = []
    for name, (_command, every) in configured.items():
        with transaction.atomic():
            claimed = PeriodicJob.objects.filter(name=name, due_at__lte=now).update(
                due_at=now + every, last_claimed_at=now, last_claimed_by=worker[:100]
            )
            if claimed:
                run_periodic_job.enqueue(name)
                queued.append(name)
    return queued


class Scheduler(threading.Thread):
    """Ticks every ``interval`` seconds beside a worker's loop, until the process ends (a daemon)."""

    def __init__(self, *, worker: str, interval: float = TICK_SECONDS):
        super().__init__(name="periodic-jobs", daemon=True)
        self.worker = worker
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                close_old_connections()
                queued = tick(worker=self.worker)
                if queued:
                    logger.info("queued periodic jobs: %s", ", ".join(queued))
            except Exception:  # noqa: BLE001 - a database hiccup must not end the scheduler
                logger.exception("periodic jobs: tick failed")
            finally:
                connection.close()  # this thread's own connection; a minute idle is not worth keeping
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
