"""Email (SPEC §10): queued after the commit, as a task; sent at most once per message, retried on
failure; per-category opt-out; the recipient's language; one test through a real SMTP server.

How tasks run in the tests: ``portal.settings_test`` uses django-tasks' immediate backend, so a task
runs when it is enqueued — which happens in ``transaction.on_commit``. The test database wraps each
test in a transaction that never commits, so ``django_capture_on_commit_callbacks(execute=True)``
runs the callbacks as a commit would. The worker itself (the database backend and ``db_worker``)
runs in ``test_the_database_queue_and_its_worker_deliver``; the others call the task directly.
"""

import socket

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from grants import services as grant_services
from grants.factories import GrantFactory
from notifications import delivery, services
from notifications.models import Message
from notifications.tasks import MAX_ATTEMPTS, send_message_email
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

PARAMS = {"creator": "小雅美妆", "operation": "revoke", "starts_on": "2026-12-01", "ends_on": "2026-12-31"}


def member_with_email(email="boss@example.com"):
    main = ShopFactory().main_account
    main.email = email
    main.save(update_fields=["email"])
    return main


def test_the_email_is_sent_after_the_change_commits(django_capture_on_commit_callbacks):
    main = member_with_email()
    grant = GrantFactory(organization=main.membership.organization)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grant_services.revoke(grant=grant, actor=grant.creator.user)
    assert mail.outbox == []  # not inside the request's transaction
    for callback in callbacks:
        callback()
    (email,) = mail.outbox
    assert email.to == ["boss@example.com"]
    assert grant.creator.name in email.subject or grant.creator.name in email.body
    message = Message.objects.get()
    assert f"/inbox/{message.pk}/" in email.body  # opens the message (marks it read), then the grant
    assert message.link == f"/grants/{grant.pk}/"
    assert "/settings/notifications/" in email.body
    assert Message.objects.get().emailed_at is not None


def test_nothing_is_sent_for_a_change_that_was_rolled_back(django_capture_on_commit_callbacks):
    main = member_with_email()
    grant = GrantFactory(organization=main.membership.organization)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        grant_services.revoke(grant=grant, actor=grant.creator.user)
        transaction.set_rollback(True)
    assert mail.outbox == []
    assert Message.objects.count() == 0


def test_no_email_without_an_address_or_with_the_category_off(django_capture_on_commit_callbacks):
    no_address = ShopFactory().main_account
    turned_off = member_with_email("off@example.com")
    services.update_settings(
        actor=turned_off, email="off@example.com", email_requests=True, email_decisions=False, email_reminders=True,
        language="zh-hans",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipients=[no_address, turned_off], kind="grant_changed", params=PARAMS)
    assert mail.outbox == []
    # The requests category is still on for that user.
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipients=[turned_off], kind="grant_request_received", params={"organization": "x"})
    assert [m.to for m in mail.outbox] == [["off@example.com"]]


def test_the_email_is_in_the_recipients_language():
    main = member_with_email()
    services.update_settings(
        actor=main, email=main.email, email_requests=True, email_decisions=True, email_reminders=True, language="en"
    )
    (message,) = services.notify(recipients=[main], kind="grant_changed", params=PARAMS)
    assert delivery.deliver_email(message_id=message.pk) == delivery.SENT
    (email,) = mail.outbox
    assert email.subject.startswith("[Creator Data Access]")
    assert "revoked" in email.body


def test_a_message_is_emailed_at_most_once_however_often_the_task_runs():
    main = member_with_email()
    (message,) = services.notify(recipients=[main], kind="grant_changed", params=PARAMS)
    results = [send_message_email.call(message.pk) for _ in range(3)]
    assert results == [delivery.SENT, delivery.ALREADY_SENT, delivery.ALREADY_SENT]
    assert len(mail.outbox) == 1


class FlakyBackend:
    """An email backend that fails the first ``failures`` sends (a mail server that is down)."""

    failures = 0
    sent: list = []

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise ConnectionRefusedError("mail server down")
        FlakyBackend.sent.extend(messages)
        return len(messages)


@override_settings(EMAIL_BACKEND="notifications.tests.test_email.FlakyBackend")
def test_a_failed_send_is_retried_and_still_sent_only_once():
    FlakyBackend.failures, FlakyBackend.sent = 2, []
    main = member_with_email()
    (message,) = services.notify(recipients=[main], kind="grant_changed", params=PARAMS)
    # The immediate backend runs each retry as soon as it is queued: three attempts, one email.
    result = send_message_email.enqueue(message.pk)
    assert result.status == "FAILED"  # the first attempt failed (and queued the next one)
    assert len(FlakyBackend.sent) == 1
    assert Message.objects.get().emailed_at is not None
    assert send_message_email.call(message.pk) == delivery.ALREADY_SENT
    assert len(FlakyBackend.sent) == 1


@override_settings(EMAIL_BACKEND="notifications.tests.test_email.FlakyBackend")
def test_a_send_that_keeps_failing_gives_up_after_the_last_attempt():
    FlakyBackend.failures, FlakyBackend.sent = 100, []
    main = member_with_email()
    (message,) = services.notify(recipients=[main], kind="grant_changed", params=PARAMS)
    send_message_email.enqueue(message.pk)
    assert FlakyBackend.failures == 100 - MAX_ATTEMPTS
    assert FlakyBackend.sent == []
    assert Message.objects.get().emailed_at is None  # never claimed as sent


# Transaction tests: the worker closes its connection between tasks (close_old_connections), which on
# PostgreSQL ends a test's surrounding transaction ("the connection is closed" when run on its own).
@pytest.mark.django_db(transaction=True)
@override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_the_database_queue_and_its_worker_deliver(django_capture_on_commit_callbacks):
    main = member_with_email()
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipients=[main], kind="grant_changed", params=PARAMS)
    assert mail.outbox == []  # queued, not sent
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]


@pytest.mark.django_db(transaction=True)
@override_settings(
    TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    EMAIL_BACKEND="notifications.tests.test_email.FlakyBackend",
)
def test_a_failed_task_is_queued_again_for_later(django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    FlakyBackend.failures, FlakyBackend.sent = 1, []
    main = member_with_email()
    # (no transaction around it here: notify's own queuing would run at once; this test queues by hand)
    message = Message.objects.create(recipient=main, kind="grant_changed", params=PARAMS)
    send_message_email.enqueue(message.pk)
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    tasks = list(DBTaskResult.objects.order_by("enqueued_at").values_list("status", "args_kwargs", "run_after"))
    assert [(status, args["args"]) for status, args, _ in tasks] == [
        ("FAILED", [message.pk]),
        ("READY", [message.pk, 2]),  # the second attempt, a minute later
    ]
    assert tasks[1][2] is not None
    assert FlakyBackend.sent == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_email_through_a_real_smtp_server():
    """aiosmtpd, started here, receives what Django's SMTP backend sends."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        main = member_with_email("owner@shop.example")
        creator = CreatorFactory(name="小雅美妆")
        (message,) = services.notify(
            recipients=[main], kind="grant_changed", params={**PARAMS, "creator": creator.name}
        )
        smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
        with override_settings(**smtp, EMAIL_PORT=port, EMAIL_USE_TLS=False, EMAIL_TIMEOUT=10):
            assert send_message_email.call(message.pk) == delivery.SENT
    finally:
        controller.stop()
    ((sender, recipients, content),) = received
    assert recipients == ["owner@shop.example"]
    assert "noreply@localhost" in sender
    assert "Subject:" in content
    assert "小雅美妆" in content  # the message, rendered for the email
    assert "settings/notifications" in content
