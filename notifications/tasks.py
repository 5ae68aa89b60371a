"""Background tasks (Django's Tasks API; the ``django-tasks`` backport until Django 6, whose
``django.tasks`` has the same API). The database backend queues them; ``manage.py db_worker`` runs
them (``make run`` starts one beside the dev server)."""

from __future__ import annotations

import datetime
import logging

from django.utils import timezone

try:  # Django 6
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task

from .delivery import deliver_email

logger = logging.getLogger(__name__)

# A failed delivery is tried again after 1, 2, 4, 8 … minutes, MAX_ATTEMPTS times in all.
MAX_ATTEMPTS = 6


def retry_delay(attempt: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=2 ** (attempt - 1))


@task()
def send_message_email(message_id: int, attempt: int = 1) -> str:
    """Email one message. Sending twice is harmless (``deliver_email`` sends at most once); a
    failure is queued again, later, up to ``MAX_ATTEMPTS`` times, then raised (the task fails)."""
    try:
        return deliver_email(message_id=message_id)
    except Exception:
        if attempt < MAX_ATTEMPTS:
            again = send_message_email
            if again.get_backend().supports_defer:
                again = again.using(run_after=timezone.now() + retry_delay(attempt))
            again.enqueue(message_id, attempt + 1)
            logger.warning("email of message %s failed (attempt %s); queued again", message_id, attempt)
        raise


@task()
def send_message_emails(message_ids: list[int]) -> dict[str, int]:
    """Email a batch of messages (the reminder job queues one task per batch, not one per message).
    A message whose sending fails goes on alone, as ``send_message_email`` with its retries."""
    outcomes: dict[str, int] = {}
    for message_id in message_ids:
        try:
            outcome = deliver_email(message_id=message_id)
        except Exception:  # noqa: BLE001 - the others in the batch still go
            again = send_message_email
            if again.get_backend().supports_defer:
                again = again.using(run_after=timezone.now() + retry_delay(1))
            again.enqueue(message_id, 2)
            logger.warning("email of message %s failed (attempt 1); queued again", message_id)
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@task()
def run_periodic_job(name: str) -> str:
    """Run one periodic job (``settings.PERIODIC_JOBS``; queued by ``schedule.tick``)."""
    from io import StringIO

    from django.core.management import call_command

    from .schedule import jobs

    command, _every = jobs()[name]
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()[-2000:]
