"""A livestream's modules' data: the minute series, the conversion funnel, traffic sources, audience.

Shares (audience) are stored as ``Decimal`` with four places, money as ``Decimal`` with two.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .livestream import ZERO, Livestream


class MinutePoint(models.Model):
    """One minute of a livestream: online viewers, room entries, GMV and orders in that minute."""

    # Kept lean on purpose (there are millions): no index beyond the unique one.
    livestream = models.ForeignKey(Livestream, on_delete=models.CASCADE, related_name="minutes", verbose_name=_("直播"))
    at = models.DateTimeField(_("时间"))
    online = models.PositiveIntegerField(_("在线人数"), default=0)
    entries = models.PositiveIntegerField(_("进入人数"), default=0)
    gmv = models.DecimalField(_("成交金额"), max_digits=14, decimal_places=2, default=ZERO)
    orders = models.PositiveIntegerField(_("成交订单数"), default=0)

    class Meta:
        verbose_name = _("分钟数据")
        verbose_name_plural = _("分钟数据")
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["livestream", "at"], name="minutepoint_unique_minute")]

    def __str__(self) -> str:
        return f"{self.livestream_id} @ {self.at:%Y-%m-%d %H:%M}"


class Step(NamedTuple):
    key: str
    label: str
    value: int
    rate: float | None  # conversion from the previous step; None for the first or after a 0


class Share(NamedTuple):
    key: str
    label: str
    value: Any
    share: float | None


class Funnel(models.Model):
    """The conversion funnel (流量转化): impressions → entries → product impressions → clicks → orders."""

    STEPS = (
        ("impressions", _("直播间曝光")),
        ("entries", _("进入直播间")),
        ("product_impressions", _("商品曝光")),
        ("product_clicks", _("商品点击")),
        ("orders", _("成交订单")),
    )

    livestream = models.OneToOneField(
        Livestream, on_delete=models.CASCADE, primary_key=True, related_name="funnel", verbose_name=_("直播")
    )
    impressions = models.PositiveBigIntegerField(_("直播间曝光人数"), default=0)
    entries = models.PositiveBigIntegerField(_("进入直播间人数"), default=0)
    product_impressions = models.PositiveBigIntegerField(_("商品曝光人数"), default=0)
    product_clicks = models.PositiveBigIntegerField(_("商品点击人数"), default=0)
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)

    class Meta:
        verbose_name = _("转化漏斗")
        verbose_name_plural = _("转化漏斗")

    def __str__(self) -> str:
        return str(self.livestream_id)

    @property
    def steps(self) -> list[Step]:
        """Each step with its conversion rate from the previous step (None when that one is 0)."""
        result = []
        previous = None
        for key, label in self.STEPS:
            value = getattr(self, key)
            rate = value / previous if previous else None
            result.append(Step(key, label, value, rate))
            previous = value
        return result


class TrafficSources(models.Model):
    """Where the room's entries came from (流量来源)."""

    SOURCES = (
        ("feed", _("推荐feed")),
        ("follow", _("关注")),
        ("search", _("搜索")),
        ("video", _("短视频")),
        ("paid", _("付费流量")),
        ("other", _("其他")),
    )

    livestream = models.OneToOneField(
        Livestream, on_delete=models.CASCADE, primary_key=True, related_name="sources", verbose_name=_("直播")
    )
    feed = models.PositiveBigIntegerField(_("推荐feed"), default=0)
    follow = models.PositiveBigIntegerField(_("关注"), default=0)
    search = models.PositiveBigIntegerField(_("搜索"), default=0)
    video = models.PositiveBigIntegerField(_("短视频"), default=0)
    paid = models.PositiveBigIntegerField(_("付费流量"), default=0)
    other = models.PositiveBigIntegerField(_("其他"), default=0)

    class Meta:
        verbose_name = _("流量来源")
        verbose_name_plural = _("流量来源")

    def __str__(self) -> str:
        return str(self.livestream_id)

    @property
    def total(self) -> int:
        return sum(getattr(self, key) for key, _label in self.SOURCES)

    @property
    def rows(self) -> list[Share]:
        """(key, label, value, share of the total) per source, in the fixed order; share None if no traffic."""
        total = self.total
        return [
            Share(key, label, getattr(self, key), getattr(self, key) / total if total else None)
            for key, label in self.SOURCES
        ]


AUDIENCE_SHARE_FIELDS = (
    "female",
    "male",
    "age_18_23",
    "age_24_30",
    "age_31_40",
    "age_41_50",
    "age_50_plus",
    "new",
    "returning",
)


def _share_field(label) -> models.DecimalField:
    return models.DecimalField(label, max_digits=5, decimal_places=4, default=Decimal("0"))


class Audience(models.Model):
    """The audience portrait (用户画像): gender, age bands, places, new vs returning viewers."""

    GENDERS = (("female", _("女性")), ("male", _("男性")))
    AGE_BANDS = (
        ("age_18_23", "18-23"),
        ("age_24_30", "24-30"),
        ("age_31_40", "31-40"),
        ("age_41_50", "41-50"),
        ("age_50_plus", "50+"),
    )
    VISITORS = (("new", _("新观众")), ("returning", _("老观众")))
    SHARE_FIELDS = AUDIENCE_SHARE_FIELDS

    livestream = models.OneToOneField(
        Livestream, on_delete=models.CASCADE, primary_key=True, related_name="audience", verbose_name=_("直播")
    )
    female = _share_field(_("女性占比"))
    male = _share_field(_("男性占比"))
    age_18_23 = _share_field(_("18-23岁占比"))
    age_24_30 = _share_field(_("24-30岁占比"))
    age_31_40 = _share_field(_("31-40岁占比"))
    age_41_50 = _share_field(_("41-50岁占比"))
    age_50_plus = _share_field(_("50岁以上占比"))
    new = _share_field(_("新观众占比"))
    returning = _share_field(_("老观众占比"))
    provinces = models.JSONField(_("省份分布"), default=dict, blank=True)
    cities = models.JSONField(_("城市分布"), default=dict, blank=True)

    class Meta:
        verbose_name = _("用户画像")
        verbose_name_plural = _("用户画像")
        constraints = [
            models.CheckConstraint(
                condition=Q(**{f"{field}__gte": 0, f"{field}__lte": 1}), name=f"audience_{field}_is_share"
            )
            for field in AUDIENCE_SHARE_FIELDS
        ]

    def __str__(self) -> str:
        return str(self.livestream_id)

    def _rows(self, pairs) -> list[Share]:
        return [Share(key, label, getattr(self, key), float(getattr(self, key))) for key, label in pairs]

    @property
    def gender_rows(self) -> list[Share]:
        return self._rows(self.GENDERS)

    @property
    def age_rows(self) -> list[Share]:
        return self._rows(self.AGE_BANDS)

    @property
    def visitor_rows(self) -> list[Share]:
        """New vs returning viewers."""
        return self._rows(self.VISITORS)

    @staticmethod
    def _top(places: Mapping[str, Any], limit: int) -> list[Share]:
        ordered = sorted(places.items(), key=lambda item: (-float(item[1]), item[0]))[:limit]
        return [Share(name, name, share, float(share)) for name, share in ordered]

    def top_provinces(self, limit: int = 10) -> list[Share]:
        """Provinces by share, largest first (ties by name)."""
        return self._top(self.provinces or {}, limit)

    def top_cities(self, limit: int = 10) -> list[Share]:
        """Cities by share, largest first (ties by name)."""
        return self._top(self.cities or {}, limit)

    @property
    def provinces_top(self) -> list[Share]:
        """top_provinces() for templates (no arguments there)."""
        return self.top_provinces()

    @property
    def cities_top(self) -> list[Share]:
        return self.top_cities()
