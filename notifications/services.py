"""Every write of the inbox: messages (``notify``, written in the caller's transaction), reading
them, and the settings. Their delivery by email is ``delivery.deliver_email``, run by a task.

The same conventions as ``grants/services.py``: keyword-only, one transaction, refusals with a
``code``. ``notify`` is called by the services of the apps above this one, inside their
transaction, so a message exists exactly when the change it reports was committed; its email is
queued with ``transaction.on_commit``, so nothing is sent for a change that was rolled back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import kinds
from .models import CalendarFeed, Message, NotificationSettings
from .tasks import send_message_email, send_message_emails


def notify(*, recipients: Iterable, kind: str, params: dict, link: str = "") -> list[Message]:
    """Write one message of ``kind`` to each recipient (each user once; ``None`` ignored), in the
    caller's transaction, in one query; queue their emails for after the commit."""
    kinds.get(kind)  # only registered kinds: a typo fails loudly in the caller's tests
    unique = {user.pk: user for user in recipients if user is not None}
    if not unique:
        return []
    now = timezone.now()
    messages = Message.objects.bulk_create(
        [Message(recipient=user, kind=kind, params=params, link=link, created_at=now) for user in unique.values()]
    )
    to_email = [message.pk for message in messages if message.recipient.email]
    if to_email:
        transaction.on_commit(lambda: _queue_emails(to_email))
    return messages


def notify_each(notes: Iterable[tuple]) -> list[Message]:
    """Many messages at once, each ``(recipient, kind, params, link)``, in the caller's transaction,
    in one query; their emails are queued after the commit as one task (``send_message_emails``).
    For the scheduled jobs, whose batches must cost a fixed number of queries."""
    now = timezone.now()
    messages = []
    for recipient, kind, params, link in notes:
        kinds.get(kind)
        messages.append(Message(recipient=recipient, kind=kind, params=params, link=link, created_at=now))
    if not messages:
        return []
    messages = Message.objects.bulk_create(messages)
    to_email = [message.pk for message in messages if message.recipient.email]
    if to_email:
        transaction.on_commit(lambda: send_message_emails.enqueue(to_email))
    return messages


def _queue_emails(message_ids: list[int]) -> None:
    for message_id in message_ids:
        send_message_email.enqueue(message_id)


def _require_recipient(message: Message, actor) -> None:
    if actor is None or not actor.is_authenticated or message.recipient_id != actor.pk:
        raise PermissionDenied


@transaction.atomic
def mark_read(*, message: Message, actor) -> Message:
    """Opening a message marks it read (once: the first time stays)."""
    _require_recipient(message, actor)
    if message.read_at is None:
        now = timezone.now()
        Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
        message.read_at = now
    return message


@transaction.atomic
def mark_all_read(*, actor) -> int:
    """全部已读: every unread message of the actor; returns how many were unread."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied
    return Message.objects.unread_for(actor).update(read_at=timezone.now())


@transaction.atomic
def update_settings(
    *, actor, email: str, email_requests: bool, email_decisions: bool, email_reminders: bool, language: str
) -> NotificationSettings:
    """The actor's own settings and email address (validated by the form and by ``full_clean``)."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied
    email = (email or "").strip()
    if email:
        EmailValidator(message=_("请输入有效的邮箱地址。"), code="invalid_email")(email)
    actor.email = email
    actor.save(update_fields=["email"])
    choices, _created = NotificationSettings.objects.select_for_update().get_or_create(user=actor)
    choices.email_requests = email_requests
    choices.email_decisions = email_decisions
    choices.email_reminders = email_reminders
    choices.language = language
    choices.full_clean(exclude=["user"])
    choices.save()
    return choices


@transaction.atomic
def regenerate_calendar_feed(*, actor) -> CalendarFeed:
    """The actor's private calendar URL, new (the first time) or replaced: the old URL stops
    working at once (a 404)."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied
    feed, _created = CalendarFeed.objects.select_for_update().get_or_create(
        user=actor, defaults={"selector": _selector(), "secret": secrets.token_urlsafe(32)}
    )
    if not _created:
        feed.selector, feed.secret, feed.created_at = _selector(), secrets.token_urlsafe(32), timezone.now()
        feed.save(update_fields=["selector", "secret", "created_at"])
    return feed


def _selector() -> str:
    return secrets.token_urlsafe(CalendarFeed.SELECTOR_LENGTH)[: CalendarFeed.SELECTOR_LENGTH]
