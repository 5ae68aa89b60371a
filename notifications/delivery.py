"""Email delivery of a message (SPEC §10): at most once per message, after the change committed."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from .models import Message, NotificationSettings

SENT, ALREADY_SENT, NOT_WANTED, GONE = "sent", "already sent", "not wanted", "gone"


def deliver_email(*, message_id: int) -> str:
    """Email one message to its recipient, at most once.

    The message row is locked while the delivery is claimed (``emailed_at`` set and committed), so
    two deliveries of one message (a retry racing a slow first attempt, two workers) cannot both
    send: the second finds it claimed. If sending fails, the claim is withdrawn and the error raised,
    so the task is retried. Returns what happened (``SENT``, ``ALREADY_SENT``, ``NOT_WANTED``, ``GONE``).
    """
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("recipient").filter(pk=message_id)
        message = message.first()
        if message is None:
            return GONE
        if message.emailed_at is not None:
            return ALREADY_SENT
        recipient = message.recipient
        choices = NotificationSettings.of(recipient)
        if not recipient.email or not recipient.is_active or not choices.wants_email(message.category):
            return NOT_WANTED
        message.emailed_at = timezone.now()
        message.save(update_fields=["emailed_at"])
    try:
        subject, body = render_email(message, language=choices.language)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email], fail_silently=False)
    except Exception:
        Message.objects.filter(pk=message.pk).update(emailed_at=None)
        raise
    return SENT


def render_email(message: Message, *, language: str) -> tuple[str, str]:
    """The subject and body of a message's email, in ``language``."""
    base = settings.PORTAL_BASE_URL.rstrip("/")
    with translation.override(language):
        subject = translation.gettext("【达人数据授权】%(title)s") % {"title": message.title}
        lines = [message.text, ""]
        if message.link:  # through the inbox, so that opening it from the email marks it read
            lines += [translation.gettext("查看详情：") + base + reverse("notifications:open", args=[message.pk]), ""]
        lines.append(
            translation.gettext("不想收到此类邮件？在通知设置中关闭：%(url)s")
            % {"url": base + reverse("notifications:settings")}
        )
    return subject.replace("\n", " "), "\n".join(lines)
