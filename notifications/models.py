"""The inbox (消息中心): messages to users, and each user's notification settings (SPEC §10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .kinds import Category, kind_of

# The bell and the unread tab count at most this many ("999+"): each count reads at most this many
# entries of the unread index, whatever the size of an inbox.
UNREAD_CAP = 1000


class MessageQuerySet(models.QuerySet):
    def for_recipient(self, user) -> MessageQuerySet:
        return self.filter(recipient_id=user.pk)

    def unread(self) -> MessageQuerySet:
        return self.filter(read_at__isnull=True)

    def unread_for(self, user) -> MessageQuerySet:
        """The user's unread messages (the bell counts them)."""
        return self.for_recipient(user).unread()

    def newest_first(self) -> MessageQuerySet:
        return self.order_by("-created_at", "-pk")

    def unread_count(self, user, cap: int | None = None) -> int:
        """``min(unread, cap)`` (``UNREAD_CAP`` unless given) in one query that stops after ``cap``
        index entries."""
        cap = UNREAD_CAP if cap is None else cap
        return self.unread_for(user).order_by().values("pk")[:cap].count()

    def unread_ids(self, user, cap: int):
        """The ids of the user's unread messages, at most ``cap`` (the bell's compiled query)."""
        return self.unread_for(user).order_by().values_list("pk")[:cap]


class Message(models.Model):
    """One message in a user's inbox: what happened (``kind`` and ``params``, rendered when read,
    in the reader's language) and where it happened (``link``)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_messages", verbose_name=_("收件人")
    )
    kind = models.CharField(_("类型"), max_length=50)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    # Set when the email is handed to the mail server (under the row's lock): sent at most once.
    emailed_at = models.DateTimeField(_("邮件发送时间"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="message_inbox"),
            # The bell and the unread tab: a range of this index, newest first.
            models.Index(
                fields=["recipient", "-created_at", "-id"], condition=Q(read_at__isnull=True), name="message_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def category(self) -> str:
        return kind_of(self.kind).category

    def get_category_display(self) -> str:
        return Category(self.category).label

    @property
    def title(self) -> str:
        return kind_of(self.kind).title(self.params)

    @property
    def text(self) -> str:
        """The message in the active language (rendered now, from the kind and its parameters)."""
        return kind_of(self.kind).text(self.params)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def _default_language() -> str:
    return settings.LANGUAGE_CODE


class NotificationSettings(models.Model):
    """A user's choices: email per category (all on until changed) and the language of the email.
    A user without a row has the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings",
        verbose_name=_("用户"),
    )  # fmt: skip
    email_requests = models.BooleanField(_("新的申请"), default=True)
    email_decisions = models.BooleanField(_("授权与处理结果"), default=True)
    email_reminders = models.BooleanField(_("到期与待办提醒"), default=True)
    language = models.CharField(_("邮件语言"), max_length=10, choices=settings.LANGUAGES, default=_default_language)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self) -> str:
        return f"{self.user_id}"

    def wants_email(self, category: str) -> bool:
        return bool(getattr(self, f"email_{category}", False))

    @classmethod
    def of(cls, user) -> NotificationSettings:
        """The user's settings, or the defaults (unsaved) when they never changed them."""
        found = cls.objects.filter(user_id=user.pk).first()
        return found if found is not None else cls(user=user)


class CalendarFeed(models.Model):
    """A user's private calendar URL (SPEC §10): ``/calendar/<selector><secret>.ics``.

    The selector finds the row; the secret (``secrets.token_urlsafe(32)``) is then compared in
    constant time, so the time an answer takes says nothing about how much of a guess was right.
    Regenerating replaces both: the old URL is then a 404.
    """

    SELECTOR_LENGTH = 12

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed", verbose_name=_("用户")
    )
    selector = models.CharField(max_length=SELECTOR_LENGTH, unique=True, editable=False)
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now)

    class Meta:
        verbose_name = _("日历订阅")
        verbose_name_plural = _("日历订阅")

    def __str__(self) -> str:
        return f"{self.user_id}"

    @property
    def token(self) -> str:
        return self.selector + self.secret


class PeriodicJob(models.Model):
    """When a periodic job (``settings.PERIODIC_JOBS``) is next due. A worker's scheduler claims a
    due job by moving ``due_at`` on in one conditional UPDATE (``notifications/schedule.py``):
    however many workers tick at once, one of them wins each run."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    due_at = models.DateTimeField(_("下次运行"))
    last_claimed_at = models.DateTimeField(_("上次运行"), null=True, blank=True)
    last_claimed_by = models.CharField(_("运行者"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("定时任务")
        verbose_name_plural = _("定时任务")

    def __str__(self) -> str:
        return self.name
