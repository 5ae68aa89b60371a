"""Full-data and extension requests (申请全部带货数据 / 申请续约, SPEC §9) and their immutable history."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.models import Membership

from .grant import Grant
from .history import HistoryQuerySet, ImmutableModel
from .request_status import REQUEST_TTL, RequestQuerySetMixin, RequestStatusField

# --- full-data and extension requests (申请全部带货数据 / 申请续约, SPEC §9) ------------------------


class GrantRequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", pgettext_lazy("request status", "已授权")
    DECLINED = "declined", _("已拒绝")
    EXPIRED = "expired", _("过期未处理")


# A proposal covers at most this many days (SPEC §9): a full-data request's or an expired grant's
# new period, inclusive; for a scheduled or active grant, the days its end moves out.
MAX_REQUEST_DAYS = 366
# After a decline, the same organization may ask the same creator for full data again after this.
ASK_AGAIN_AFTER = datetime.timedelta(days=7)


class GrantRequestQuerySet(RequestQuerySetMixin, models.QuerySet):
    status_choices = GrantRequestStatus

    def for_creator(self, creator) -> GrantRequestQuerySet:
        return self.filter(creator=creator)

    def for_organization(self, organization) -> GrantRequestQuerySet:
        return self.filter(organization=organization)

    def of_kind(self, kind: str) -> GrantRequestQuerySet:
        return self.filter(kind=kind)

    def between(self, creator, organization) -> GrantRequestQuerySet:
        return self.filter(creator=creator, organization=organization)

    def declined_after(self, since: datetime.datetime) -> GrantRequestQuerySet:
        return self.filter(status=GrantRequestStatus.DECLINED, decided_at__gt=since)

    def search_organization(self, term: str) -> GrantRequestQuerySet:
        term = (term or "").strip()
        return self.filter(organization__name__icontains=term) if term else self

    def held_by_main_account(self, user) -> GrantRequestQuerySet:
        main = Membership.objects.filter(user_id=user.pk, role=Membership.Role.MAIN).values("organization_id")
        return self.filter(organization_id__in=main)


class GrantRequest(models.Model):
    """An organization's request to a creator: a full-data grant (``kind`` "grant") or the extension
    of its grant (``kind`` "extension"), with the period it proposes, and the creator's answer."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("申请全部带货数据")
        EXTENSION = "extension", _("申请续约")

    creator = models.ForeignKey(
        "portal.Creator", on_delete=models.PROTECT, related_name="grant_requests", verbose_name=_("达人")
    )
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="grant_requests", verbose_name=_("商家/机构")
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    # An extension's grant; a full-data request's grant once approved.
    grant = models.ForeignKey(
        Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="requests",
        verbose_name=pgettext_lazy("a grant", "授权"),
    )  # fmt: skip
    # The proposed period. An extension of a scheduled or active grant proposes only a new end (its
    # renewal period starts the day after it is approved, SPEC §4).
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("截止日期"))
    message = models.CharField(_("留言"), max_length=200, blank=True)
    reason = models.CharField(_("拒绝理由"), max_length=200, blank=True)
    status = RequestStatusField(
        _("状态"), max_length=10, choices=GrantRequestStatus.choices, default=GrantRequestStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    created_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("处理人"),
    )  # fmt: skip
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = GrantRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("全部数据申请")
        verbose_name_plural = _("全部数据申请")
        constraints = [
            # One pending request per (creator, organization, kind): a second one is refused
            # (pending_exists). An expired one is closed (stored "expired") before a new one is made.
            models.UniqueConstraint(
                fields=["creator", "organization", "kind"],
                condition=Q(status="pending"),
                name="one_pending_grant_request_per_kind",
                violation_error_code="pending_exists",
                violation_error_message=_("已有待审批的申请，请等待达人处理。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "declined", "expired"]),
                name="grant_request_status_valid",
            ),
            models.CheckConstraint(condition=Q(kind__in=["grant", "extension"]), name="grant_request_kind_valid"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="grant_request_ends_on_not_before_starts_on",
                violation_error_code="ends_before_start",
                violation_error_message=_("截止日期不能早于开始日期。"),
            ),
            models.CheckConstraint(
                condition=Q(kind="extension", grant__isnull=False) | Q(kind="grant", starts_on__isnull=False),
                name="grant_request_kind_has_its_fields",
            ),
        ]
        indexes = [
            # The creator's lists (one status, and every status) and counts, newest first.
            models.Index(fields=["creator", "status", "-created_at", "-id"], name="grant_request_creator_status"),
            models.Index(fields=["creator", "-created_at", "-id"], name="grant_request_creator_newest"),
            # The organization's list, newest first.
            models.Index(fields=["organization", "-created_at", "-id"], name="grant_request_org_newest"),
            # The reminder job: requests stored as pending, by age (5-day nudges, expiry notices).
            models.Index(fields=["created_at", "id"], condition=Q(status="pending"), name="grant_request_pending_age"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.creator} · {self.get_kind_display()} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == GrantRequestStatus.PENDING

    @property
    def is_expired(self) -> bool:
        return self.status == GrantRequestStatus.EXPIRED

    def can_decide(self) -> bool:
        """Pending, and not expired (the status is read as of now)."""
        return self.status == GrantRequestStatus.PENDING

    @property
    def is_extension(self) -> bool:
        return self.kind == self.Kind.EXTENSION

    @property
    def expires_at(self) -> datetime.datetime:
        return self.created_at + REQUEST_TTL

    @property
    def period_days(self) -> int | None:
        return (self.ends_on - self.starts_on).days + 1 if self.starts_on else None


class GrantRequestEvent(ImmutableModel):
    """One step of a full-data or extension request: requested, approved (with the period
    approved), declined."""

    class Operation(models.TextChoices):
        REQUEST = "request", _("申请")
        APPROVE = "approve", pgettext_lazy("request operation", "授权")
        DECLINE = "decline", _("拒绝")

    request = models.ForeignKey(GrantRequest, on_delete=models.PROTECT, related_name="events", verbose_name=_("申请"))
    operation = models.CharField(_("操作"), max_length=10, choices=Operation.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    # The period proposed (request) or approved (approve).
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)

    objects = HistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("全部数据申请记录")
        verbose_name_plural = _("全部数据申请记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["request", "at"], name="grant_request_event_at")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} · {self.request_id} · {self.at:%Y-%m-%d %H:%M}"
