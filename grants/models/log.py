"""The data-access log (数据访问记录, SPEC §11)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# --- the data-access log (SPEC §11) --------------------------------------------------------------


class AccessPage(models.TextChoices):
    """What was viewed: each gated page of a creator's data (``grants.access.record_view``)."""

    OVERVIEW = "overview", _("数据概览")
    LIVESTREAMS = "livestreams", _("直播列表")
    LIVESTREAMS_CSV = "livestreams_csv", _("直播列表导出")
    LIVESTREAM = "livestream", _("直播详情")
    BIG_SCREEN = "big_screen", _("直播大屏")
    TRAFFIC = "traffic", _("流量转化")
    AUDIENCE = "audience", _("用户画像")


ACCESS_LOG_RETENTION_DAYS = 180


class AccessLogQuerySet(models.QuerySet):
    def for_creator(self, creator) -> AccessLogQuerySet:
        return self.filter(creator=creator)

    def for_organization(self, organization) -> AccessLogQuerySet:
        return self.filter(organization=organization)

    def of_page(self, page: str | None) -> AccessLogQuerySet:
        return self.filter(page=page) if page else self

    def between(self, start: datetime.date | None, end: datetime.date | None) -> AccessLogQuerySet:
        rows = self
        if start is not None:
            rows = rows.filter(day__gte=start)
        if end is not None:
            rows = rows.filter(day__lte=end)
        return rows

    def search_organization(self, term: str) -> AccessLogQuerySet:
        term = (term or "").strip()
        return self.filter(organization__name__icontains=term) if term else self

    def search_creator(self, term: str) -> AccessLogQuerySet:
        term = (term or "").strip()
        if not term:
            return self
        return self.filter(Q(creator__name__icontains=term) | Q(creator__douyin_id__icontains=term))

    def under_grant_since(self, day: datetime.date) -> AccessLogQuerySet:
        """Views under a grant from ``day`` on (the idle flag's question, read from ``access_log_grant``)."""
        return self.filter(day__gte=day)

    def newest_first(self) -> AccessLogQuerySet:
        return self.order_by("-day", "-last_at", "-pk")

    def older_than(self, day: datetime.date) -> AccessLogQuerySet:
        return self.filter(day__lt=day)


class AccessLogEntry(models.Model):
    """数据访问记录: one row per (viewer, creator, page, livestream, day in Asia/Shanghai), upserted
    by ``grants.access.record_view`` each time a gated page is served to someone other than the
    creator, with the number of views, the first and last time, and the authority of the day's last
    view (the grant, the delegation of a grant, or the approved livestream request). Written only there, by one
    ``INSERT … ON CONFLICT DO UPDATE``; purged after ``ACCESS_LOG_RETENTION_DAYS`` by
    ``manage.py purge_access_log``."""

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("查看人")
    )
    creator = models.ForeignKey("portal.Creator", on_delete=models.CASCADE, related_name="+", verbose_name=_("达人"))
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("商家/机构")
    )
    page = models.CharField(_("页面"), max_length=20, choices=AccessPage.choices)
    livestream = models.ForeignKey(
        "livestreams.Livestream", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("直播"),
    )  # fmt: skip
    day = models.DateField(_("日期"))
    first_at = models.DateTimeField(_("首次查看"))
    last_at = models.DateTimeField(_("最近查看"))
    views = models.PositiveIntegerField(_("查看次数"), default=1)
    # The authority: a grant, a delegation (SPEC §12: its views carry its grant here too, so that
    # they count for the grant's idle flag, and the delegation beside it), or an approved
    # livestream request.
    grant = models.ForeignKey(
        "grants.Grant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("依据的授权")
    )
    delegation = models.ForeignKey(
        "grants.Delegation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("依据的子账号授权"),
    )  # fmt: skip
    livestream_request = models.ForeignKey(
        "grants.LivestreamAccessRequest", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("依据的直播间申请"),
    )  # fmt: skip

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("数据访问记录")
        verbose_name_plural = _("数据访问记录")
        constraints = [
            # One row per (viewer, creator, page, livestream, day): two partial unique indexes, because
            # NULLs are distinct in a unique index (PostgreSQL < 15 and SQLite know no NULLS NOT
            # DISTINCT). The upsert names the one that applies as its conflict target.
            models.UniqueConstraint(
                fields=["viewer", "creator", "page", "day"],
                condition=Q(livestream__isnull=True),
                name="access_log_one_row_per_page_day",
            ),
            models.UniqueConstraint(
                fields=["viewer", "creator", "page", "livestream", "day"],
                condition=Q(livestream__isnull=False),
                name="access_log_one_row_per_livestream_day",
            ),
        ]
        indexes = [
            models.Index(fields=["creator", "-day"], name="access_log_creator_day"),
            models.Index(fields=["organization", "-day"], name="access_log_org_day"),
            models.Index(fields=["grant", "day"], condition=Q(grant__isnull=False), name="access_log_grant"),
            models.Index(fields=["day"], name="access_log_day"),
        ]

    def __str__(self) -> str:
        return f"{self.viewer_id} · {self.creator_id} · {self.page} · {self.day}"
