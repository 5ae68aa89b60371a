"""Workers on several hosts (issue 18, item 4): two ``db_worker`` processes share one queue on
PostgreSQL and every task runs once — none lost, none done twice — and every email is sent once.

The workers are real processes with the production settings, talking to the test database and to a
real SMTP server (aiosmtpd) started here. The queue's claim is ``SELECT … FOR UPDATE SKIP LOCKED``
(django-tasks-db), so the two workers never take the same task; a message queued twice (a retry
racing the first attempt) is still emailed once, because ``deliver_email`` claims the message row.
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from notifications import services
from notifications.models import Message
from notifications.tasks import send_message_email
from portal.factories import ShopFactory

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 240
QUEUED_TWICE = 40  # of those, queued a second time
SMTP_DELAY = 0.01  # seconds per email, so that one worker cannot drain the queue before the other starts

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two workers need PostgreSQL's SKIP LOCKED"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """A real SMTP server on loopback that records what it receives (thread-safe)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.received: list[str] = []
        self.lock = threading.Lock()
        inbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                await asyncio.sleep(SMTP_DELAY)
                with inbox.lock:
                    inbox.received.append(envelope.content.decode("utf-8", "replace"))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def worker(worker_id: str, smtp_port: int) -> subprocess.Popen:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"]
    return subprocess.Popen(
        [*command, "--worker-id", worker_id, "--verbosity", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_two_workers_run_every_task_once_and_send_every_email_once():
    from django_tasks_db.models import DBTaskResult

    shop = ShopFactory()
    members = [shop.main_account]
    for index, member in enumerate(members):
        member.email = f"boss{index}@shop.example"
        member.save(update_fields=["email"])
    params = {"operation": "revoke", "starts_on": "2026-12-01", "ends_on": "2026-12-31"}
    messages = [
        services.notify(recipients=members, kind="grant_changed", params={**params, "creator": f"达人{i:04d}号"})[0]
        for i in range(MESSAGES)
    ]
    # notify() queued one task per message after its commit; some are queued a second time.
    for message in messages[:QUEUED_TWICE]:
        send_message_email.enqueue(message.pk)
    assert DBTaskResult.objects.count() == MESSAGES + QUEUED_TWICE

    with Inbox() as inbox:
        workers = [worker("worker-a", inbox.port), worker("worker-b", inbox.port)]
        outputs = [process.communicate(timeout=120)[0] for process in workers]
    assert [process.returncode for process in workers] == [0, 0], outputs

    results = list(DBTaskResult.objects.values_list("status", "worker_ids"))
    assert Counter(status for status, _ in results) == {"SUCCESSFUL": MESSAGES + QUEUED_TWICE}
    assert all(len(ids) == 1 for _, ids in results), "a task was taken by more than one worker"
    by_worker = Counter(ids[0] for _, ids in results)
    assert set(by_worker) == {"worker-a", "worker-b"}, by_worker  # both took part

    bodies = [email.message_from_string(content).get_payload() for content in inbox.received]  # 8bit: as sent
    named = Counter(name for body in bodies for name in re.findall(r"达人\d{4}号", body))
    assert len(inbox.received) == MESSAGES  # none lost, none sent twice
    assert named == Counter({f"达人{i:04d}号": 1 for i in range(MESSAGES)})
    assert Message.objects.filter(emailed_at__isnull=True).count() == 0
