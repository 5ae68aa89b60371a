"""The livestream: one broadcast of a creator, its totals and its sales sums; the plain reads of them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Creator, Organization

ZERO = Decimal("0.00")
SORT_KEYS = ("started_at", "gmv", "orders", "peak_online")
# The figures a period's totals hold (``period_totals``), and those a day of the daily series holds.
TOTAL_KEYS = ("count", "gmv", "orders", "units", "viewers", "avg_viewers")
DAY_KEYS = ("day", "gmv", "orders", "count")


def local_midnight(day: datetime.date) -> datetime.datetime:
    """00:00 of ``day`` in the platform's timezone (settings.TIME_ZONE, Asia/Shanghai), aware."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def local_day(moment: datetime.datetime) -> datetime.date:
    """The calendar day of ``moment`` in the platform's timezone: the day a livestream counts on."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def period_totals(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A period's totals (``TOTAL_KEYS``) from an aggregate row's ``<prefix>_count``, ``_gmv``,
    ``_orders``, ``_units`` and ``_viewers`` (None where nothing was summed)."""
    count = row[f"{prefix}_count"] or 0
    viewers = row[f"{prefix}_viewers"] or 0
    return {
        "count": count,
        "gmv": row[f"{prefix}_gmv"] or ZERO,
        "orders": row[f"{prefix}_orders"] or 0,
        "units": row[f"{prefix}_units"] or 0,
        "viewers": viewers,
        "avg_viewers": viewers // count if count else 0,
    }


def every_day(rows: Iterable[Mapping[str, Any]], start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
    """The daily series of ``[start, end]`` (``DAY_KEYS``) from rows of days that had livestreams:
    every day present, zeros where nothing started."""
    by_day = {row["day"]: row for row in rows}
    days = []
    for offset in range((end - start).days + 1):
        day = start + datetime.timedelta(days=offset)
        row = by_day.get(day, {})
        days.append({"day": day, "gmv": row.get("gmv") or ZERO, "orders": row.get("orders") or 0,
                     "count": row.get("count") or 0})  # fmt: skip
    return days


class LivestreamQuerySet(models.QuerySet):
    """Reads of livestreams. Writes go through ``livestreams.writes`` (which keeps the derived rows
    in step); the creator overview's figures have a faster equivalent in ``livestreams.speedups``."""

    def for_creator(self, creator: Creator) -> LivestreamQuerySet:
        return self.filter(creator=creator)

    def cooperated_by(self, organization: Organization) -> LivestreamQuerySet:
        """Livestreams in which ``organization`` cooperated (its products sold there, or a partner)."""
        return self.filter(cooperations__organization=organization)

    def started_between(self, start_date: datetime.date, end_date: datetime.date) -> LivestreamQuerySet:
        """Livestreams that started on a calendar day in ``[start_date, end_date]`` (Asia/Shanghai).

        Compared as a half-open range of aware datetimes, [start 00:00, end + 1 day 00:00), so the
        (creator, -started_at) index serves it; no date cast of the column.
        """
        return self.filter(
            started_at__gte=local_midnight(start_date),
            started_at__lt=local_midnight(end_date + datetime.timedelta(days=1)),
        )

    def live(self) -> LivestreamQuerySet:
        return self.filter(ended_at__isnull=True)

    def ended(self) -> LivestreamQuerySet:
        return self.filter(ended_at__isnull=False)

    def newest_first(self) -> LivestreamQuerySet:
        return self.order_by("-started_at", "-pk")

    def sort_by(self, key: str) -> LivestreamQuerySet:
        """Largest first by one of ``SORT_KEYS`` (newest first for ``started_at``)."""
        field = key if key in SORT_KEYS else "started_at"
        return self.order_by(F(field).desc(nulls_last=True), "-pk")

    def totals_with_previous(self, start: datetime.date, end: datetime.date) -> tuple[dict[str, Any], dict[str, Any]]:
        """Totals (``TOTAL_KEYS``) of ``[start, end]`` and of the period of the same length just
        before, in one aggregate over the livestreams. ``speedups.creator_totals_with_previous()``
        reads the same figures of one creator from the roll-up."""
        length = (end - start).days + 1
        previous_start = start - datetime.timedelta(days=length)
        current = Q(started_at__gte=local_midnight(start))
        sums = {}
        for name, period in (("cur", current), ("prev", ~current)):
            sums[f"{name}_count"] = models.Count("pk", filter=period)
            for field in ("gmv", "orders", "units", "viewers"):
                sums[f"{name}_{field}"] = Sum(field, filter=period)
        row = self.started_between(previous_start, end).order_by().aggregate(**sums)
        return period_totals(row, "cur"), period_totals(row, "prev")

    def daily(self, start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
        """GMV, orders and livestream count per calendar day (Asia/Shanghai) of ``[start, end]``,
        every day present (zeros where nothing started). A livestream counts on its start date.
        ``speedups.creator_daily()`` reads the same series of one creator from the roll-up."""
        rows = (
            self.started_between(start, end)
            .annotate(day=TruncDate("started_at", tzinfo=timezone.get_default_timezone()))
            .order_by()
            .values("day")
            .annotate(gmv=Sum("gmv"), orders=Sum("orders"), count=models.Count("pk"))
        )
        return every_day(rows, start, end)

    def totals(self) -> dict[str, Any]:
        """One aggregate query: count, gmv, orders, units, viewers (sum) and average viewers."""
        sums = {"all_count": models.Count("pk")}
        sums.update({f"all_{field}": Sum(field) for field in ("gmv", "orders", "units", "viewers")})
        return period_totals(self.order_by().aggregate(**sums), "all")


class Livestream(models.Model):
    """One livestream (直播) of a creator, with its totals and denormalized sales sums.

    Written by ``livestreams.writes`` only: its sums (``gmv``, ``orders``, ``units``) are its
    products', the creator roll-up (``CreatorDay``) counts it, its cooperations copy its start,
    and ``updated_at`` (part of the module cache key) moves with every change of it or its rows.
    """

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="livestreams", verbose_name=_("达人"))
    external_id = models.CharField(_("外部编号"), max_length=64, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    started_at = models.DateTimeField(_("开播时间"))
    ended_at = models.DateTimeField(_("下播时间"), null=True, blank=True, help_text=_("直播中时为空"))

    viewers = models.PositiveBigIntegerField(_("累计观看人数"), default=0)
    peak_online = models.PositiveIntegerField(_("最高在线人数"), default=0)
    avg_watch_seconds = models.PositiveIntegerField(_("平均观看时长（秒）"), default=0)
    new_followers = models.PositiveIntegerField(_("新增粉丝"), default=0)

    # Sums of the livestream's products, written with them (livestreams.writes).
    gmv = models.DecimalField(_("成交金额"), max_digits=14, decimal_places=2, default=ZERO)
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)
    units = models.PositiveBigIntegerField(_("成交件数"), default=0)

    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = LivestreamQuerySet.as_manager()

    class Meta:
        verbose_name = _("直播")
        verbose_name_plural = _("直播")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="livestream_ended_after_started",
                violation_error_code="ended_before_started",
                violation_error_message=_("下播时间不能早于开播时间。"),
            ),
        ]
        indexes = [models.Index(fields=["creator", "-started_at"], name="livestream_creator_started")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.ended_at is None

    @property
    def duration(self) -> datetime.timedelta:
        """How long the stream ran; up to now while it is live."""
        end = self.ended_at if self.ended_at is not None else timezone.now()
        return max(end - self.started_at, datetime.timedelta(0))
