"""Reminders sent (SPEC §10): each one exactly once, by a unique index."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# --- reminders sent (SPEC §10): each one exactly once, by a unique index --------------------------
from .grant import Grant
from .grant_requests import GrantRequest
from .livestream_requests import LivestreamAccessRequest


class ReminderThreshold(models.TextChoices):
    ENDS_IN_7_DAYS = "ends_in_7", _("7 天后到期")
    ENDS_TODAY = "ends_today", _("今天到期")
    WAITING_5_DAYS = "waiting_5", _("等待处理 5 天")
    EXPIRED = "expired", _("过期未处理")


class Reminder(models.Model):
    """One reminder delivered: (what it is about, threshold, recipient[, the grant's end]).

    The scheduled job (``grants/reminders.py``) inserts these with ``ON CONFLICT DO NOTHING`` and
    writes a message only for the rows it inserted itself (``run``, its batch's random claim), in
    the same transaction: the unique indexes below, not a check made first, make each reminder
    exactly once, whichever process gets there first. A grant's reminder is keyed by its end as
    well, so a grant renewed after its 7-day reminder is reminded again of its new end.
    """

    grant = models.ForeignKey(
        Grant, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=pgettext_lazy("a grant", "授权"),
    )  # fmt: skip
    grant_request = models.ForeignKey(
        GrantRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("全部数据申请")
    )
    livestream_request = models.ForeignKey(
        LivestreamAccessRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("直播间数据申请"),
    )  # fmt: skip
    threshold = models.CharField(_("提醒"), max_length=12, choices=ReminderThreshold.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("收件人")
    )
    # The grant's end the reminder was about (grants only).
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)
    # The batch that inserted the row: a batch reads back the rows it claimed by this, not by a
    # RETURNING that ON CONFLICT DO NOTHING would not give on every database.
    run = models.CharField(max_length=32, editable=False)
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("提醒记录")
        verbose_name_plural = _("提醒记录")
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "threshold", "recipient", "ends_on"],
                condition=Q(grant__isnull=False),
                name="one_reminder_per_grant_end",
            ),
            models.UniqueConstraint(
                fields=["grant_request", "threshold", "recipient"],
                condition=Q(grant_request__isnull=False),
                name="one_reminder_per_grant_request",
            ),
            models.UniqueConstraint(
                fields=["livestream_request", "threshold", "recipient"],
                condition=Q(livestream_request__isnull=False),
                name="one_reminder_per_livestream_request",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        grant__isnull=False,
                        ends_on__isnull=False,
                        grant_request__isnull=True,
                        livestream_request__isnull=True,
                    )
                    | Q(grant__isnull=True, grant_request__isnull=False, livestream_request__isnull=True)
                    | Q(grant__isnull=True, grant_request__isnull=True, livestream_request__isnull=False)
                ),  # fmt: skip
                name="reminder_about_one_thing",
            ),
            models.CheckConstraint(
                condition=Q(threshold__in=["ends_in_7", "ends_today", "waiting_5", "expired"]),
                name="reminder_threshold_valid",
            ),
        ]

    def __str__(self) -> str:
        subject = self.grant_id or self.grant_request_id or self.livestream_request_id
        return f"{self.threshold} · {subject} → {self.recipient_id}"
