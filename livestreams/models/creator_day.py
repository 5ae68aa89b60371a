"""The creator roll-up: a creator's livestreams summed per start day (written by ``livestreams.rollup``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import Creator

from .livestream import ZERO


class CreatorDayQuerySet(models.QuerySet):
    def for_creator(self, creator: Creator) -> CreatorDayQuerySet:
        return self.filter(creator=creator)


class CreatorDay(models.Model):
    """A creator's livestreams that started on one calendar day (Asia/Shanghai), summed.

    A roll-up: the creator overview reads a period's totals and daily series from these rows (one
    per day) instead of from the livestreams (ten a day for a busy creator): see
    ``livestreams.speedups``. Written only by ``livestreams.rollup.refresh_creator_days()``, which
    recomputes rows from the livestreams; a day without livestreams has no row.
    """

    creator = models.ForeignKey(
        Creator, on_delete=models.CASCADE, related_name="livestream_days", verbose_name=_("达人")
    )
    day = models.DateField(_("开始日期"))
    livestreams = models.PositiveIntegerField(_("直播场次"), default=0)
    gmv = models.DecimalField(_("成交金额"), max_digits=18, decimal_places=2, default=ZERO)
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)
    units = models.PositiveBigIntegerField(_("成交件数"), default=0)
    viewers = models.PositiveBigIntegerField(_("累计观看人数"), default=0)

    objects = CreatorDayQuerySet.as_manager()

    class Meta:
        verbose_name = _("每日趋势")
        verbose_name_plural = _("每日趋势")
        constraints = [models.UniqueConstraint(fields=["creator", "day"], name="creatorday_unique_day")]

    def __str__(self) -> str:
        return f"{self.creator_id} @ {self.day}"
