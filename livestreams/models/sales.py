"""What sold in a livestream and by whom: products (``ProductSale``) and cooperations (``Cooperation``)."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from portal.compiled import compared_without_index
from portal.models import Creator, Organization

from .livestream import ZERO, Livestream, local_midnight


def _organization_field(name: str) -> models.Subquery:
    """The grouped row's organization's ``name`` field (a correlated subquery on its primary key)."""
    return models.Subquery(
        Organization.objects.filter(pk=models.OuterRef("organization_id")).order_by().values(name)[:1]
    )


class ProductSaleQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> ProductSaleQuerySet:
        return self.filter(organization=organization)

    def by_gmv(self) -> ProductSaleQuerySet:
        return self.order_by("-gmv", "pk")

    def _sold_in(self, creator: Creator, start: datetime.date, end: datetime.date) -> ProductSaleQuerySet:
        """Products sold in ``creator``'s livestreams started in ``[start, end]``, unordered."""
        return self.filter(
            livestream__creator=creator,
            livestream__started_at__gte=local_midnight(start),
            livestream__started_at__lt=local_midnight(end + datetime.timedelta(days=1)),
        ).order_by()

    def top_products(self, creator: Creator, start: datetime.date, end: datetime.date, limit: int = 10) -> list:
        """The creator's best-selling products in livestreams started in ``[start, end]``, by GMV.

        Grouped by (shop, sku) alone; the shop's name is looked up for the ``limit`` rows kept only
        (a subquery PostgreSQL evaluates after the sort and limit), not joined to every product.
        Ties of GMV go by sku, then by the shop's id (two shops may use one sku), so the order, and
        which rows a tie at the limit keeps, is the same on every run and in every plan.
        ``speedups.creator_top_products()`` reads the same rows from the roll-up.
        """
        return list(
            self._sold_in(creator, start, end)
            .values("organization_id", "sku")
            .annotate(
                name=models.Max("name"),
                gmv=Sum("gmv"),
                orders=Sum("orders"),
                units=Sum("units"),
                livestreams=models.Count("livestream_id"),
            )  # fmt: skip
            .annotate(organization__name=_organization_field("name"))
            .order_by("-gmv", "sku", "organization_id")[:limit]
        )

    def top_organizations(self, creator: Creator, start: datetime.date, end: datetime.date, limit: int = 10) -> list:
        """The shops (and agencies) whose products sold most in the creator's livestreams of ``[start, end]``.

        Summed from the products, as the cooperations' figures are (``writes.cooperations_of()``):
        an organization's gmv, orders and units in a livestream are its products' there
        (``livestreams``: those where it has products; a partner without products is not listed). Read from the
        products, the planner walks the period's livestreams by index and their products by
        index, as for ``top_products()``; from the smaller cooperation table it preferred a
        sequential scan of all of it. Names as in ``top_products()``.
        ``speedups.creator_top_shops()`` reads the same rows from the roll-up.
        """
        return list(
            self._sold_in(creator, start, end)
            .values("organization_id")
            .annotate(
                gmv=Sum("gmv"),
                orders=Sum("orders"),
                units=Sum("units"),
                livestreams=models.Count("livestream_id", distinct=True),
            )  # fmt: skip
            .annotate(organization__name=_organization_field("name"), organization__kind=_organization_field("kind"))
            .order_by("-gmv", "organization_id")[:limit]
        )


class ProductSale(models.Model):
    """A product sold in a livestream: whose it is (a shop), and how much of it sold there."""

    # No index of its own: the unique (livestream, organization, sku) index serves lookups by
    # livestream, and on PostgreSQL a covering index on livestream (migration 0003) lets the top
    # lists read a period's products from the index alone.
    livestream = models.ForeignKey(
        Livestream, on_delete=models.CASCADE, related_name="products", db_index=False, verbose_name=_("直播")
    )
    # The shop whose product it is. The import accepts shops only; factories may also give agencies
    # products, so that an agency can cooperate in demo data.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="product_sales", verbose_name=_("商家/机构")
    )
    sku = models.CharField(_("商品编码"), max_length=64)
    name = models.CharField(_("商品名称"), max_length=200)
    price = models.DecimalField(_("价格"), max_digits=12, decimal_places=2)
    units = models.PositiveIntegerField(_("成交件数"), default=0)
    orders = models.PositiveIntegerField(_("成交订单数"), default=0)
    gmv = models.DecimalField(_("成交金额"), max_digits=14, decimal_places=2, default=ZERO)

    objects = ProductSaleQuerySet.as_manager()

    class Meta:
        verbose_name = _("直播商品")
        verbose_name_plural = _("直播商品")
        constraints = [
            models.UniqueConstraint(
                fields=["livestream", "organization", "sku"], name="productsale_unique_sku_per_livestream"
            ),
        ]
        indexes = [models.Index(fields=["organization", "livestream"], name="productsale_org_livestream")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class CooperationQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> CooperationQuerySet:
        return self.filter(organization=organization)

    def of_organization_by_livestream(self, organization: Organization) -> CooperationQuerySet:
        """The organization's cooperations, to be read by their livestreams: the rows of a deep page
        whose livestreams are known (``portal.pagination.keys_first(by_key=…)``). For an
        organization holding 20,000, a generic plan by the organization read them all to keep the
        page's 21 (11 ms against 1.6; ``portal.compiled.compared_without_index``)."""
        return compared_without_index(self, "organization_id", organization.pk)

    def newest_first(self) -> CooperationQuerySet:
        return self.order_by("-started_at", "-livestream_id")


class Cooperation(models.Model):
    """An organization cooperated (合作) in a livestream: its products were sold there (its figures
    are their sums), or it worked on it as a partner without products (zero figures).

    Written with the livestream's products by ``livestreams.writes`` (``cooperations_of()``), never
    on its own.
    """

    livestream = models.ForeignKey(
        Livestream, on_delete=models.CASCADE, related_name="cooperations", verbose_name=_("直播")
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="cooperations", verbose_name=_("商家/机构")
    )
    # A copy of the livestream's, so an organization's list is ordered by this table's index alone.
    started_at = models.DateTimeField(_("开播时间"))
    gmv = models.DecimalField(_("成交金额"), max_digits=14, decimal_places=2, default=ZERO)
    orders = models.PositiveBigIntegerField(_("成交订单数"), default=0)
    units = models.PositiveBigIntegerField(_("成交件数"), default=0)

    objects = CooperationQuerySet.as_manager()

    class Meta:
        verbose_name = _("合作直播")
        verbose_name_plural = _("合作直播")
        constraints = [
            models.UniqueConstraint(fields=["livestream", "organization"], name="cooperation_unique_organization"),
        ]
        indexes = [
            models.Index(fields=["organization", "-started_at", "-livestream"], name="cooperation_org_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} @ {self.livestream_id}"
