"""The sales roll-ups: what a creator's livestreams sold, per start day and product (or shop), and
the bounds that let a period's best sellers be found without summing all of them.

Written only by ``livestreams.rollup`` (``refresh_creator_days()``, called by every writer of
``livestreams.writes`` with the (creator, day) keys it changed), read by ``livestreams.speedups``
(the overview's top products and top shops). Their keys point at creators and organizations
without a database foreign key: the rows are derived from products whose own keys are checked,
they are recomputed, never edited, and a creator's or an organization's deletion still removes
them (``on_delete`` is Django's); a constraint would cost a check per written row at every commit.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import Creator, Organization

from .livestream import ZERO


def _creator() -> models.ForeignKey:
    return models.ForeignKey(
        Creator, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False,
        verbose_name=_("达人"),
    )  # fmt: skip


def _organization() -> models.ForeignKey:
    return models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False,
        verbose_name=_("商家/机构"),
    )  # fmt: skip


def _gmv() -> models.DecimalField:
    return models.DecimalField(_("成交金额"), max_digits=18, decimal_places=2, default=ZERO)


class CreatorProductDay(models.Model):
    """One product (a shop's sku) in a creator's livestreams that started on one day (Asia/Shanghai):
    its products summed (``rollup.PRODUCT_SUMS``). A product not sold that day has no row."""

    creator = _creator()
    day = models.DateField(_("开始日期"))
    organization = _organization()
    sku = models.CharField(_("商品编码"), max_length=64)
    name = models.CharField(_("商品名称"), max_length=200)  # the largest of the day's names
    gmv = _gmv()
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)
    units = models.PositiveBigIntegerField(_("成交件数"), default=0)
    livestreams = models.PositiveIntegerField(_("直播场次"), default=0)

    class Meta:
        verbose_name = _("商品每日销售")
        verbose_name_plural = _("商品每日销售")
        # PostgreSQL: covering (migration 0007), so a period's rows are an index-only range scan;
        # there also (creator, organization, sku, day) for one product's days.
        constraints = [
            models.UniqueConstraint(fields=["creator", "day", "organization", "sku"], name="productday_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} @ {self.day}: {self.organization_id}/{self.sku}"


class CreatorShopDay(models.Model):
    """One shop's products in a creator's livestreams that started on one day, summed
    (``rollup.SHOP_SUMS``; ``livestreams``: in how many of that day's livestreams it sold)."""

    creator = _creator()
    day = models.DateField(_("开始日期"))
    organization = _organization()
    gmv = _gmv()
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)
    units = models.PositiveBigIntegerField(_("成交件数"), default=0)
    livestreams = models.PositiveIntegerField(_("直播场次"), default=0)

    class Meta:
        verbose_name = _("商家每日销售")
        verbose_name_plural = _("商家每日销售")
        constraints = [models.UniqueConstraint(fields=["creator", "day", "organization"], name="shopday_unique")]

    def __str__(self) -> str:
        return f"{self.creator_id} @ {self.day}: {self.organization_id}"


class CreatorProductBound(models.Model):
    """A ceiling on one product's GMV in any period within the calendar years ``year`` and
    ``year + 1``: the sum of its positive daily GMV there (``CreatorProductDay``). A product without
    days in those two years has no row. ``speedups`` ranks a period's products only among those
    whose ceiling reaches what ten of them are known to have sold."""

    creator = _creator()
    year = models.PositiveSmallIntegerField(_("年份"))
    organization = _organization()
    sku = models.CharField(_("商品编码"), max_length=64)
    gmv = _gmv()

    class Meta:
        verbose_name = _("商品两年销售上限")
        verbose_name_plural = _("商品两年销售上限")
        constraints = [
            models.UniqueConstraint(fields=["creator", "year", "organization", "sku"], name="productbound_unique"),
        ]
        indexes = [
            models.Index(fields=["creator", "year", "-gmv", "organization", "sku"], name="productbound_ranked"),
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} {self.year}–{self.year + 1}: {self.organization_id}/{self.sku}"


class CreatorShopBound(models.Model):
    """``CreatorProductBound`` for a shop: its positive daily GMV (``CreatorShopDay``) in the
    calendar years ``year`` and ``year + 1``, summed."""

    creator = _creator()
    year = models.PositiveSmallIntegerField(_("年份"))
    organization = _organization()
    gmv = _gmv()

    class Meta:
        verbose_name = _("商家两年销售上限")
        verbose_name_plural = _("商家两年销售上限")
        constraints = [models.UniqueConstraint(fields=["creator", "year", "organization"], name="shopbound_unique")]
        indexes = [models.Index(fields=["creator", "year", "-gmv", "organization"], name="shopbound_ranked")]

    def __str__(self) -> str:
        return f"{self.creator_id} {self.year}–{self.year + 1}: {self.organization_id}"
