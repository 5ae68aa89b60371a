"""The data: livestreams, the products sold in them and by whom, minute series, funnels, sources, audiences.

A livestream belongs to one creator. The products sold in it belong to shops (``ProductSale``); an
organization whose products were sold in a livestream *cooperated* in it (``Cooperation``, one row
per livestream and organization, derived from the products). ``Livestream.replace_products()`` is
the one writer of products, cooperations and the livestream's denormalized sums: the importer and
the factory both go through it, in one transaction.

``CreatorDay`` sums a creator's livestreams per start day (the creator overview reads it instead of
the livestreams). ``refresh_creator_days()`` is its one writer; every write of a livestream through
the model or its QuerySet (save, delete, update, bulk_create, bulk_update) calls it in the same
transaction. A writer that goes around them (COPY, raw SQL) calls it itself.

Shares (audience) are stored as ``Decimal`` with four places, money as ``Decimal`` with two.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connections, models, router, transaction
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grants.services import sync_request_creators
from portal.models import Creator, Organization

ZERO = Decimal("0.00")
# A minute point as the writers pass it: (at, online, entries, gmv, orders). ``at`` may also be its
# ISO 8601 text with an offset and ``gmv`` its decimal text (the importer keeps what it validated).
MinuteRow = tuple[datetime.datetime | str, int, int, Decimal | str, int]
MINUTE_COLUMNS = ("livestream", "at", "online", "entries", "gmv", "orders")
MINUTE_BATCH_SIZE = 2000
PRODUCT_BATCH_SIZE = 500


def local_midnight(day: datetime.date) -> datetime.datetime:
    """00:00 of ``day`` in the platform's timezone (settings.TIME_ZONE, Asia/Shanghai), aware."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def local_day(moment: datetime.datetime) -> datetime.date:
    """The calendar day of ``moment`` in the platform's timezone: the day a livestream counts on."""
    return moment.astimezone(timezone.get_default_timezone()).date()


# The livestream fields the creator roll-up (CreatorDay) is made of: a write of any of them refreshes it.
ROLLED_UP_FIELDS = frozenset({"creator", "creator_id", "started_at", "viewers", "gmv", "orders", "units"})
ROLLED_UP_ATTNAMES = frozenset({"creator_id", "started_at", "viewers", "gmv", "orders", "units"})


class RolledUp(NamedTuple):
    """What the creator roll-up counts of one livestream: where (creator, start day) and how much."""

    creator_id: int
    day: datetime.date
    viewers: int
    gmv: Decimal
    orders: int
    units: int

    @property
    def key(self) -> tuple[int, datetime.date]:
        return self.creator_id, self.day


# The model fields (as update_fields may name them) each RolledUp value comes from.
ROLLED_UP_SOURCES = {
    "creator_id": {"creator", "creator_id"},
    "day": {"started_at"},
    "viewers": {"viewers"},
    "gmv": {"gmv"},
    "orders": {"orders"},
    "units": {"units"},
}


class LivestreamQuerySet(models.QuerySet):
    # Set by for_creator() on an unfiltered QuerySet: it is then exactly one creator's livestreams,
    # whose sums by start day the creator's roll-up (CreatorDay) holds. Any further filter clears it.
    _rollup_creator: int | None = None

    def _clone(self):
        clone = super()._clone()
        clone._rollup_creator = self._rollup_creator
        return clone

    def _filter_or_exclude(self, negate, args, kwargs):
        clone = super()._filter_or_exclude(negate, args, kwargs)
        clone._rollup_creator = None
        return clone

    def for_creator(self, creator: Creator) -> LivestreamQuerySet:
        unfiltered = not self.query.where
        queryset = self.filter(creator=creator)
        if unfiltered:
            queryset._rollup_creator = creator.pk
        return queryset

    def _creator_days(self) -> CreatorDayQuerySet | None:
        """The roll-up rows that sum this QuerySet's livestreams by day, when it is exactly
        ``for_creator(creator)``; None for any other QuerySet (its sums come from the livestreams)."""
        query = self.query
        if self._rollup_creator is None or len(query.where.children) != 1 or query.is_sliced or query.combinator:
            return None
        return CreatorDay.objects.using(self.db).filter(creator_id=self._rollup_creator)

    # --- writes keep the creator roll-up (CreatorDay) in step, in the same transaction ---

    def update(self, **kwargs) -> int:
        if ROLLED_UP_FIELDS.isdisjoint(kwargs):
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            rows = _by_pk(self.model, self.db, self.order_by().values_list("pk", flat=True))
            keys = _creator_day_keys(rows)
            count = super().update(**kwargs)
            refresh_creator_days(keys | _creator_day_keys(rows), using=self.db)
            if not {"creator", "creator_id"}.isdisjoint(kwargs):
                sync_request_creators(rows.values("pk"), using=self.db)
        return count

    update.alters_data = True

    def delete(self):
        with transaction.atomic(using=self.db, savepoint=False):
            keys = _creator_day_keys(self)
            result = super().delete()
            refresh_creator_days(keys, using=self.db)
        return result

    delete.alters_data = True
    delete.queryset_only = True

    def bulk_create(
        self, objs, batch_size=None, ignore_conflicts=False, update_conflicts=False, update_fields=None,
        unique_fields=None,
    ):  # fmt: skip
        """QuerySet.bulk_create(), then the roll-up of the livestreams' days; for an upsert
        (``update_conflicts``) also of the days that the rows it updates had before."""
        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            keys = set()
            if update_conflicts and objs:
                meta = self.model._meta
                fields = [meta.pk if name == "pk" else meta.get_field(name) for name in unique_fields or ("pk",)]
                if len(fields) == 1:  # external_id, the importer's: one IN list
                    match = Q(**{f"{fields[0].attname}__in": [getattr(obj, fields[0].attname) for obj in objs]})
                else:
                    match = Q()
                    for obj in objs:
                        match |= Q(**{field.attname: getattr(obj, field.attname) for field in fields})
                keys = _creator_day_keys(self.model._base_manager.using(self.db).filter(match))
            created = super().bulk_create(
                objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts, update_conflicts=update_conflicts,
                update_fields=update_fields, unique_fields=unique_fields,
            )  # fmt: skip
            keys |= {(obj.creator_id, local_day(obj.started_at)) for obj in objs}
            refresh_creator_days(keys, using=self.db)
            if update_conflicts and objs and not {"creator", "creator_id"}.isdisjoint(update_fields or ()):
                sync_request_creators(self.model._base_manager.using(self.db).filter(match).values("pk"), using=self.db)
        return created

    bulk_create.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        objs = list(objs)
        if ROLLED_UP_FIELDS.isdisjoint(fields):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        with transaction.atomic(using=self.db, savepoint=False):
            rows = _by_pk(self.model, self.db, [obj.pk for obj in objs])
            keys = _creator_day_keys(rows)
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            refresh_creator_days(keys | _creator_day_keys(rows), using=self.db)
            if not {"creator", "creator_id"}.isdisjoint(fields):
                sync_request_creators([obj.pk for obj in objs], using=self.db)
        return count

    bulk_update.alters_data = True

    def cooperated_by(self, organization: Organization) -> LivestreamQuerySet:
        """Livestreams in which ``organization``'s products were sold (it cooperated)."""
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
        """Totals of ``[start, end]`` and of the period of the same length just before, in one query."""
        length = (end - start).days + 1
        previous_start = start - datetime.timedelta(days=length)
        rollup = self._creator_days()
        if rollup is not None:
            # One roll-up row per day: 2 × length rows at most, however many livestreams there were.
            rows, current = rollup.filter(day__gte=previous_start, day__lte=end), Q(day__gte=start)

            def count(period):
                return Sum("livestreams", filter=period)
        else:
            rows, current = self.started_between(previous_start, end), Q(started_at__gte=local_midnight(start))

            def count(period):
                return models.Count("pk", filter=period)

        sums = {}
        for name, period in (("cur", current), ("prev", ~current)):
            sums.update(
                {
                    f"{name}_count": count(period),
                    f"{name}_gmv": Sum("gmv", filter=period),
                    f"{name}_orders": Sum("orders", filter=period),
                    f"{name}_units": Sum("units", filter=period),
                    f"{name}_viewers": Sum("viewers", filter=period),
                }
            )
        row = rows.order_by().aggregate(**sums)
        return _totals(row, "cur"), _totals(row, "prev")

    def daily(self, start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
        """GMV, orders and livestream count per calendar day (Asia/Shanghai) of ``[start, end]``,
        every day present (zeros where nothing started). A livestream counts on its start date."""
        rollup = self._creator_days()
        if rollup is not None:
            rows = rollup.filter(day__gte=start, day__lte=end).values("day", "gmv", "orders", count=F("livestreams"))
        else:
            rows = (
                self.started_between(start, end)
                .annotate(day=TruncDate("started_at", tzinfo=timezone.get_default_timezone()))
                .order_by()
                .values("day")
                .annotate(gmv=Sum("gmv"), orders=Sum("orders"), count=models.Count("pk"))
            )
        by_day = {row["day"]: row for row in rows}
        days = []
        for offset in range((end - start).days + 1):
            day = start + datetime.timedelta(days=offset)
            row = by_day.get(day, {})
            days.append({"day": day, "gmv": row.get("gmv") or ZERO, "orders": row.get("orders") or 0,
                         "count": row.get("count") or 0})  # fmt: skip
        return days

    def totals(self) -> dict[str, Any]:
        """One aggregate query: count, gmv, orders, units, viewers (sum) and average viewers."""
        result = self.order_by().aggregate(
            count=models.Count("pk"),
            gmv=Sum("gmv"),
            orders=Sum("orders"),
            units=Sum("units"),
            viewers=Sum("viewers"),
        )
        count = result["count"]
        return {
            "count": count,
            "gmv": result["gmv"] or ZERO,
            "orders": result["orders"] or 0,
            "units": result["units"] or 0,
            "viewers": result["viewers"] or 0,
            "avg_viewers": (result["viewers"] or 0) // count if count else 0,
        }


SORT_KEYS = ("started_at", "gmv", "orders", "peak_online")


def _by_pk(model, using: str, pks: Iterable[int]) -> models.QuerySet:
    return model._base_manager.using(using).filter(pk__in=list(pks))


def _creator_day_keys(queryset: models.QuerySet) -> set[tuple[int, datetime.date]]:
    """(creator id, start day) of each livestream of ``queryset``, as the database has it now."""
    return {(creator_id, local_day(started_at)) for creator_id, started_at in
            queryset.order_by().values_list("creator_id", "started_at")}  # fmt: skip


def _totals(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
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


class Livestream(models.Model):
    """One livestream (直播) of a creator, with its totals and denormalized sales sums."""

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="livestreams", verbose_name=_("达人"))
    external_id = models.CharField(_("外部编号"), max_length=64, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    started_at = models.DateTimeField(_("开播时间"))
    ended_at = models.DateTimeField(_("下播时间"), null=True, blank=True, help_text=_("直播中时为空"))

    viewers = models.PositiveBigIntegerField(_("累计观看人数"), default=0)
    peak_online = models.PositiveIntegerField(_("最高在线人数"), default=0)
    avg_watch_seconds = models.PositiveIntegerField(_("平均观看时长（秒）"), default=0)
    new_followers = models.PositiveIntegerField(_("新增粉丝"), default=0)

    # Sums of the livestream's products, written by replace_products() only.
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

    # What the creator roll-up (CreatorDay) counts of this livestream, as last read or written; None
    # when not known (save() and delete() then read it from the database first).
    _rolled_up: RolledUp | None = None

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        saved = None if update_fields is None else set(update_fields)
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # A save that writes a rolled-up field refreshes the roll-up of the day(s) concerned.
        rolls_up = saved is None or not ROLLED_UP_FIELDS.isdisjoint(saved)
        before = None
        if rolls_up and (not self._state.adding or self.pk is not None):
            before = self._rolled_up or self._rollup_figures_in_database(using)
        moved = (
            not self._state.adding
            and hasattr(self, "_loaded_started_at")
            and self.started_at != self._loaded_started_at
            and (update_fields is None or "started_at" in update_fields)
        )
        with transaction.atomic(using=using, savepoint=False):
            super().save(*args, **kwargs)
            if moved:
                self.cooperations.update(started_at=self.started_at)
            if rolls_up:
                now = self._rollup_figures()
                if saved is not None and before is not None:
                    # Fields left out of update_fields keep the values the database has.
                    now = RolledUp(
                        *(
                            value if ROLLED_UP_SOURCES[name] & saved else old
                            for name, value, old in zip(RolledUp._fields, now, before, strict=True)
                        )
                    )
                if now != before:
                    refresh_creator_days({now.key} | ({before.key} if before else set()), using=using)
                if before is not None and now.creator_id != before.creator_id:
                    sync_request_creators([self.pk], using=using)
                self._rolled_up = now
        self._loaded_started_at = self.started_at

    save.alters_data = True

    def delete(self, using=None, keep_parents=False):
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            before = self._rolled_up or self._rollup_figures_in_database(using)
            result = super().delete(using=using, keep_parents=keep_parents)
            if before is not None:
                refresh_creator_days([before.key], using=using)
        self._rolled_up = None
        return result

    delete.alters_data = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        if "started_at" in field_names:
            # Remembered so save() can keep the cooperations' copy of started_at in step.
            instance._loaded_started_at = instance.started_at
        if ROLLED_UP_ATTNAMES.issubset(field_names):
            instance._rolled_up = instance._rollup_figures()
        return instance

    def _rollup_figures(self) -> RolledUp:
        return RolledUp(self.creator_id, local_day(self.started_at), self.viewers, self.gmv, self.orders, self.units)

    def _rollup_figures_in_database(self, using: str) -> RolledUp | None:
        row = (
            type(self)._base_manager.using(using).filter(pk=self.pk)
            .values_list("creator_id", "started_at", "viewers", "gmv", "orders", "units").first()
        )  # fmt: skip
        if row is None:
            return None
        creator_id, started_at, *sums = row
        return RolledUp(creator_id, local_day(started_at), *sums)

    @property
    def is_live(self) -> bool:
        return self.ended_at is None

    @property
    def duration(self) -> datetime.timedelta:
        """How long the stream ran; up to now while it is live."""
        end = self.ended_at if self.ended_at is not None else timezone.now()
        return max(end - self.started_at, datetime.timedelta(0))

    @transaction.atomic(savepoint=False)
    def replace_products(self, rows: Iterable[Mapping[str, Any] | ProductSale]) -> list[ProductSale]:
        """Replace the livestream's products, and with them its cooperations and its sums.

        ``rows`` are mappings of ProductSale fields (``organization`` or ``organization_id``, ``sku``,
        ``name``, ``price``, ``units``, ``orders``, ``gmv``) or unsaved ProductSale objects. Old products
        and cooperations are deleted, the new ones bulk-inserted, and ``gmv``/``orders``/``units`` of
        the livestream and of each cooperation recomputed from them (``cooperation_sums()``, the one
        definition the importer's batch writer shares), all in one transaction.
        """
        products = [row if isinstance(row, ProductSale) else ProductSale(**row) for row in rows]
        for product in products:
            product.livestream = self
        self.products.all().delete()
        self.cooperations.all().delete()
        ProductSale.objects.bulk_create(products, batch_size=PRODUCT_BATCH_SIZE)

        by_organization = cooperation_sums((p.organization_id, p.gmv, p.orders, p.units) for p in products)
        Cooperation.objects.bulk_create(
            Cooperation(livestream=self, organization_id=organization_id, started_at=self.started_at, **sums._asdict())
            for organization_id, sums in by_organization.items()
        )
        self.gmv, self.orders, self.units = total_sums(by_organization.values())
        self.save(update_fields=["gmv", "orders", "units", "updated_at"])
        return products

    @transaction.atomic(savepoint=False)
    def replace_minutes(self, rows: Iterable[MinuteRow]) -> int:
        """Replace the minute series with ``rows`` of (at, online, entries, gmv, orders); returns the count."""
        self.minutes.all().delete()
        return self.add_minutes(rows)

    def add_minutes(self, rows: Iterable[MinuteRow]) -> int:
        """Insert minute points, ``rows`` of (at, online, entries, gmv, orders), in bulk; returns the count.

        On PostgreSQL (psycopg 3) the rows go in with COPY: several times faster than bulk_create,
        whose per-value preparation dominates an import of a million minute points. Elsewhere (SQLite)
        bulk_create in batches (``insert_rows()``).
        """
        pk = self.pk
        return insert_rows(MinutePoint, MINUTE_COLUMNS, ((pk, *row) for row in rows))


class Sums(NamedTuple):
    """What sold: money, orders and units (of a cooperation, or of a whole livestream)."""

    gmv: Decimal
    orders: int
    units: int


def cooperation_sums(products: Iterable[tuple[int, Decimal, int, int]]) -> dict[int, Sums]:
    """The cooperations a livestream's products make: ``products`` are (organization_id, gmv, orders,
    units); the result maps each organization whose products sold there, in order of first
    appearance, to the sums of its products. The one definition of a cooperation's figures, used by
    ``Livestream.replace_products()`` and by the importer's batch writer."""
    by_organization: dict[int, list] = {}
    for organization_id, gmv, orders, units in products:
        sums = by_organization.get(organization_id)
        if sums is None:
            by_organization[organization_id] = [gmv, orders, units]
        else:
            sums[0] += gmv
            sums[1] += orders
            sums[2] += units
    return {
        organization_id: Sums(ZERO + gmv, orders, units)
        for organization_id, (gmv, orders, units) in by_organization.items()
    }


def total_sums(cooperations: Iterable[Sums]) -> Sums:
    """A livestream's sums: those of its cooperations (so of all its products)."""
    gmv, orders, units = ZERO, 0, 0
    for sums in cooperations:
        gmv += sums.gmv
        orders += sums.orders
        units += sums.units
    return Sums(gmv, orders, units)


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert plain rows in bulk into ``model``'s table; returns the count.

    ``fields`` names the model fields (a foreign key by its name or attname) in the order of each
    row's values; the values are Python values of those fields (ints, Decimals, aware datetimes,
    strings, a JSON field's data), never None for a non-null column. A datetime or decimal may also
    be given as text the database reads as that value (ISO 8601 with an offset, ``12.50``). On
    PostgreSQL (psycopg 3) one COPY for all the rows, which skips Django's per-value preparation
    and per-row SQL; elsewhere bulk_create in batches.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql" and is_psycopg3:
        names = ", ".join(connection.ops.quote_name(column.column) for column in columns)
        sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({names}) FROM STDIN"
        json_columns = [(i, column) for i, column in enumerate(columns) if isinstance(column, models.JSONField)]
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                if json_columns:
                    row = list(row)
                    for i, column in json_columns:
                        row[i] = column.get_db_prep_save(row[i], connection)
                write_row(row)
    else:
        attnames = [column.attname for column in columns]
        model.objects.bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=MINUTE_BATCH_SIZE
        )
    return len(rows)


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
            .order_by("-gmv", "sku")[:limit]
        )

    def top_organizations(self, creator: Creator, start: datetime.date, end: datetime.date, limit: int = 10) -> list:
        """The shops (and agencies) whose products sold most in the creator's livestreams of ``[start, end]``.

        Summed from the products, as the cooperations are (``Livestream.replace_products()``): an
        organization's gmv, orders and units in a livestream are its products' there, and it
        cooperated in the livestreams where it has products (``livestreams``). Read from the
        products, the planner walks the period's livestreams by index and their products by
        index, as for ``top_products()``; from the smaller cooperation table it preferred a
        sequential scan of all of it. Names as in ``top_products()``.
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

    def newest_first(self) -> CooperationQuerySet:
        return self.order_by("-started_at", "-livestream_id")


class Cooperation(models.Model):
    """An organization's products were sold in a livestream: it cooperated (合作) in it.

    Derived from ProductSale by ``Livestream.replace_products()``; never written on its own.
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


# --- the creator roll-up ---------------------------------------------------------------------------


class CreatorDayQuerySet(models.QuerySet):
    def for_creator(self, creator: Creator) -> CreatorDayQuerySet:
        return self.filter(creator=creator)


class CreatorDay(models.Model):
    """A creator's livestreams that started on one calendar day (Asia/Shanghai), summed.

    A roll-up: the creator overview reads a period's totals and daily series from these rows (one
    per day) instead of from the livestreams (ten a day for a busy creator). Written only by
    ``refresh_creator_days()``, which recomputes rows from the livestreams; a day without
    livestreams has no row.
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


CREATOR_DAY_SUMS = ("livestreams", "gmv", "orders", "units", "viewers")
# Day runs per aggregate query: keeps the OR of ranges well inside SQLite's expression depth limit.
REFRESH_RUNS_PER_QUERY = 200


def _day_runs(keys: list[tuple[int, datetime.date]]) -> list[tuple[int, datetime.date, datetime.date]]:
    """Sorted (creator id, day) keys as runs of consecutive days: (creator id, first day, last day)."""
    runs: list[list] = []
    for creator_id, day in keys:
        last = runs[-1] if runs else None
        if last is not None and last[0] == creator_id and last[2] + datetime.timedelta(days=1) == day:
            last[2] = day
        else:
            runs.append([creator_id, day, day])
    return [tuple(run) for run in runs]


def refresh_creator_days(keys: Iterable[tuple[int, datetime.date]], *, using: str | None = None) -> None:
    """Recompute the roll-up rows (CreatorDay) of ``keys``, (creator id, day) pairs, from the livestreams.

    The one writer of the roll-up. Call it in the transaction that changed the livestreams, after
    the change, with every (creator id, start day) a changed livestream had before and has after
    (a day in Asia/Shanghai: ``local_day(started_at)``). Livestream.save()/delete() and the
    QuerySet's update()/delete()/bulk_create()/bulk_update() call it themselves.

    A constant number of statements for any number of keys: lock the rows (an upsert, in key
    order, so two writers of an overlapping set take turns and the later one sums what the earlier
    committed), sum the livestreams of those days into them, delete the rows of days left without
    livestreams. On PostgreSQL three SQL statements over arrays of the keys, whose text does not
    grow with them; elsewhere (SQLite, one writer at a time) the same steps through the ORM.
    """
    keys = sorted(set(keys))
    if not keys:
        return
    using = using or router.db_for_write(CreatorDay)
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            _refresh_creator_days_sql(connection, keys)
        else:
            _refresh_creator_days_orm(using, keys)


def _refresh_creator_days_sql(connection, keys: list[tuple[int, datetime.date]]) -> None:
    quote = connection.ops.quote_name
    day_table, stream_table = quote(CreatorDay._meta.db_table), quote(Livestream._meta.db_table)
    sums = ", ".join(quote(name) for name in CREATOR_DAY_SUMS)
    keyed = "SELECT * FROM unnest(%s::bigint[], %s::date[]) AS k(creator_id, day)"
    arrays = [[creator_id for creator_id, _day in keys], [day for _creator_id, day in keys]]
    zone = timezone.get_default_timezone_name()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {day_table} (creator_id, day, {sums}) "  # noqa: S608 - names from the models
            f"SELECT creator_id, day, 0, 0, 0, 0, 0 FROM ({keyed}) AS k ORDER BY creator_id, day "
            f"ON CONFLICT (creator_id, day) DO UPDATE SET livestreams = {day_table}.livestreams",
            arrays,
        )
        cursor.execute(
            f"UPDATE {day_table} AS d SET livestreams = s.n, gmv = s.gmv, orders = s.orders, units = s.units, "  # noqa: S608
            "viewers = s.viewers FROM (SELECT k.creator_id, k.day, count(l.id) AS n, "
            "coalesce(sum(l.gmv), 0) AS gmv, coalesce(sum(l.orders), 0) AS orders, "
            "coalesce(sum(l.units), 0) AS units, coalesce(sum(l.viewers), 0) AS viewers "
            f"FROM ({keyed}) AS k LEFT JOIN {stream_table} AS l ON l.creator_id = k.creator_id "
            "AND l.started_at >= (k.day::timestamp AT TIME ZONE %s) "
            "AND l.started_at < ((k.day + 1)::timestamp AT TIME ZONE %s) "
            "GROUP BY k.creator_id, k.day) AS s WHERE d.creator_id = s.creator_id AND d.day = s.day",
            [*arrays, zone, zone],
        )
        cursor.execute(
            f"DELETE FROM {day_table} AS d USING ({keyed}) AS k "  # noqa: S608
            "WHERE d.creator_id = k.creator_id AND d.day = k.day AND d.livestreams = 0",
            arrays,
        )


def _refresh_creator_days_orm(using: str, keys: list[tuple[int, datetime.date]]) -> None:
    rows = CreatorDay.objects.using(using)
    unique = ["creator", "day"]
    rows.bulk_create(
        [CreatorDay(creator_id=creator_id, day=day) for creator_id, day in keys],
        update_conflicts=True, unique_fields=unique, update_fields=["livestreams"],
    )  # fmt: skip
    zone = timezone.get_default_timezone()
    runs = _day_runs(keys)
    sums: dict[tuple[int, datetime.date], dict] = {}
    for index in range(0, len(runs), REFRESH_RUNS_PER_QUERY):
        match = Q()
        for creator_id, first, last in runs[index : index + REFRESH_RUNS_PER_QUERY]:
            match |= Q(
                creator_id=creator_id,
                started_at__gte=local_midnight(first),
                started_at__lt=local_midnight(last + datetime.timedelta(days=1)),
            )
        found = (
            Livestream._base_manager.using(using).filter(match)
            .annotate(day=TruncDate("started_at", tzinfo=zone)).order_by()
            .values("creator_id", "day")
            .annotate(livestreams=models.Count("pk"), gmv=Sum("gmv"), orders=Sum("orders"), units=Sum("units"),
                      viewers=Sum("viewers"))
        )  # fmt: skip
        for row in found:
            sums[row["creator_id"], row["day"]] = row
    if sums:
        rows.bulk_create(
            [
                CreatorDay(creator_id=creator_id, day=day, **{name: row[name] for name in CREATOR_DAY_SUMS})
                for (creator_id, day), row in sorted(sums.items())
            ],
            update_conflicts=True, unique_fields=unique, update_fields=list(CREATOR_DAY_SUMS),
        )  # fmt: skip
    empty = [key for key in keys if key not in sums]
    for index in range(0, len(empty), REFRESH_RUNS_PER_QUERY):
        match = Q()
        for creator_id, day in empty[index : index + REFRESH_RUNS_PER_QUERY]:
            match |= Q(creator_id=creator_id, day=day)
        rows.filter(match).delete()
