"""The sales roll-ups (``livestreams/models/creator_sales.py``): a creator's products and shops per
start day, and their two-year ceilings, filled from the products already there.

On PostgreSQL the day tables' unique constraints are made covering (``INCLUDE`` the figures), so a
period's rows are an index-only range scan, and an index on (creator, product or shop, day), also
covering, serves one product's days; they are made here rather than in the models' ``Meta``
because SQLite has no such indexes and Django's checks warn about one there (as in 0003). The
fill is one ``INSERT … SELECT`` per table there, the ORM elsewhere.
"""

import django.db.models.deletion
from collections import defaultdict
from decimal import Decimal
from django.db import migrations, models

ZONE = "Asia/Shanghai"  # settings.TIME_ZONE: a livestream counts on its start day there
PRODUCT_FIGURES = "name, gmv, orders, units, livestreams"
SHOP_FIGURES = "gmv, orders, units, livestreams"
COVERING = (
    ("livestreams_creatorproductday", "productday_unique", "creator_id, day, organization_id, sku", PRODUCT_FIGURES),
    ("livestreams_creatorshopday", "shopday_unique", "creator_id, day, organization_id", SHOP_FIGURES),
)
LOOKUPS = (
    ("livestreams_creatorproductday", "productday_product", "creator_id, organization_id, sku, day", PRODUCT_FIGURES),
    ("livestreams_creatorshopday", "shopday_shop", "creator_id, organization_id, day", SHOP_FIGURES),
)
FILL_SQL = (
    "INSERT INTO livestreams_creatorproductday (creator_id, day, organization_id, sku, name, gmv, orders, units, "
    "livestreams) SELECT l.creator_id, (l.started_at AT TIME ZONE %s)::date, p.organization_id, p.sku, max(p.name), "
    "sum(p.gmv), sum(p.orders), sum(p.units), count(p.livestream_id) FROM livestreams_productsale AS p "
    "JOIN livestreams_livestream AS l ON l.id = p.livestream_id GROUP BY 1, 2, 3, 4",
    "INSERT INTO livestreams_creatorshopday (creator_id, day, organization_id, gmv, orders, units, livestreams) "
    "SELECT l.creator_id, (l.started_at AT TIME ZONE %s)::date, p.organization_id, sum(p.gmv), sum(p.orders), "
    "sum(p.units), count(DISTINCT p.livestream_id) FROM livestreams_productsale AS p "
    "JOIN livestreams_livestream AS l ON l.id = p.livestream_id GROUP BY 1, 2, 3",
)
BOUND_SQL = (
    "INSERT INTO livestreams_creator{kind}bound (creator_id, year, {keys}, gmv) "
    "SELECT d.creator_id, y.year, {d_keys}, sum(greatest(d.gmv, 0)) FROM livestreams_creator{kind}day AS d "
    "CROSS JOIN LATERAL (VALUES (extract(year FROM d.day)::integer - 1), (extract(year FROM d.day)::integer)) "
    "AS y(year) GROUP BY d.creator_id, y.year, {d_keys}"
)
KINDS = (("product", ("organization_id", "sku")), ("shop", ("organization_id",)))


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for sql in FILL_SQL:
                cursor.execute(sql, [ZONE])
            for kind, keys in KINDS:
                d_keys = ", ".join(f"d.{key}" for key in keys)
                cursor.execute(BOUND_SQL.format(kind=kind, keys=", ".join(keys), d_keys=d_keys))
            for table, name, columns, figures in COVERING:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns}) INCLUDE ({figures})")
            for table, name, columns, figures in LOOKUPS:
                cursor.execute(f"CREATE INDEX {name} ON {table} ({columns}) INCLUDE ({figures})")
        return
    _fill_portable(apps, connection.alias)


def _fill_portable(apps, db):
    from django.db.models import Count, F, Max, Sum
    from django.db.models.functions import TruncDate
    from zoneinfo import ZoneInfo

    ProductSale = apps.get_model("livestreams", "ProductSale")
    figures = {
        "product": {"name": Max("name"), "gmv": Sum("gmv"), "orders": Sum("orders"), "units": Sum("units"),
                    "livestreams": Count("livestream_id")},
        "shop": {"gmv": Sum("gmv"), "orders": Sum("orders"), "units": Sum("units"),
                 "livestreams": Count("livestream_id", distinct=True)},
    }  # fmt: skip
    for kind, keys in KINDS:
        Day = apps.get_model("livestreams", f"Creator{kind.title()}Day")
        Bound = apps.get_model("livestreams", f"Creator{kind.title()}Bound")
        rows = list(
            ProductSale.objects.using(db)
            .annotate(creator_id=F("livestream__creator_id"), day=TruncDate("livestream__started_at", tzinfo=ZoneInfo(ZONE)))
            .order_by()
            .values("creator_id", "day", *keys)
            .annotate(**figures[kind])
        )
        Day.objects.using(db).bulk_create([Day(**row) for row in rows], batch_size=500)
        bounds = defaultdict(lambda: Decimal("0.00"))
        for row in rows:
            for year in (row["day"].year - 1, row["day"].year):
                bounds[(row["creator_id"], year, *(row[key] for key in keys))] += max(row["gmv"], Decimal("0.00"))
        Bound.objects.using(db).bulk_create(
            [Bound(creator_id=owner, year=year, gmv=gmv, **dict(zip(keys, key))) for (owner, year, *key), gmv in bounds.items()],
            batch_size=500,
        )


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, name, _columns, _figures in LOOKUPS:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('livestreams', '0006_minutepoint_partitions'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='CreatorProductBound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(verbose_name='年份')),
                ('sku', models.CharField(max_length=64, verbose_name='商品编码')),
                ('gmv', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='成交金额')),
                ('creator', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.creator', verbose_name='达人')),
                ('organization', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization', verbose_name='商家/机构')),
            ],
            options={
                'verbose_name': '商品两年销售上限',
                'verbose_name_plural': '商品两年销售上限',
                'indexes': [models.Index(fields=['creator', 'year', '-gmv', 'organization', 'sku'], name='productbound_ranked')],
                'constraints': [models.UniqueConstraint(fields=('creator', 'year', 'organization', 'sku'), name='productbound_unique')],
            },
        ),
        migrations.CreateModel(
            name='CreatorProductDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='开始日期')),
                ('sku', models.CharField(max_length=64, verbose_name='商品编码')),
                ('name', models.CharField(max_length=200, verbose_name='商品名称')),
                ('gmv', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='成交金额')),
                ('orders', models.PositiveBigIntegerField(default=0, verbose_name='成交订单数')),
                ('units', models.PositiveBigIntegerField(default=0, verbose_name='成交件数')),
                ('livestreams', models.PositiveIntegerField(default=0, verbose_name='直播场次')),
                ('creator', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.creator', verbose_name='达人')),
                ('organization', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization', verbose_name='商家/机构')),
            ],
            options={
                'verbose_name': '商品每日销售',
                'verbose_name_plural': '商品每日销售',
                'constraints': [models.UniqueConstraint(fields=('creator', 'day', 'organization', 'sku'), name='productday_unique')],
            },
        ),
        migrations.CreateModel(
            name='CreatorShopBound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(verbose_name='年份')),
                ('gmv', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='成交金额')),
                ('creator', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.creator', verbose_name='达人')),
                ('organization', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization', verbose_name='商家/机构')),
            ],
            options={
                'verbose_name': '商家两年销售上限',
                'verbose_name_plural': '商家两年销售上限',
                'indexes': [models.Index(fields=['creator', 'year', '-gmv', 'organization'], name='shopbound_ranked')],
                'constraints': [models.UniqueConstraint(fields=('creator', 'year', 'organization'), name='shopbound_unique')],
            },
        ),
        migrations.CreateModel(
            name='CreatorShopDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='开始日期')),
                ('gmv', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=18, verbose_name='成交金额')),
                ('orders', models.PositiveBigIntegerField(default=0, verbose_name='成交订单数')),
                ('units', models.PositiveBigIntegerField(default=0, verbose_name='成交件数')),
                ('livestreams', models.PositiveIntegerField(default=0, verbose_name='直播场次')),
                ('creator', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.creator', verbose_name='达人')),
                ('organization', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization', verbose_name='商家/机构')),
            ],
            options={
                'verbose_name': '商家每日销售',
                'verbose_name_plural': '商家每日销售',
                'constraints': [models.UniqueConstraint(fields=('creator', 'day', 'organization'), name='shopday_unique')],
            },
        ),
        migrations.RunPython(fill, unfill),
    ]
