"""Products: the foreign key's own index on livestream dropped (the unique (livestream,
organization, sku) index serves lookups by livestream), and on PostgreSQL a covering index on
livestream holding what the creator overview's top lists read, so they are index-only scans.

The covering index is PostgreSQL's (``INCLUDE``); it is created here rather than in the model's
``Meta.indexes`` because SQLite has no such indexes and Django's checks warn about one there.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "productsale_livestream_cover"


def create_covering_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON livestreams_productsale (livestream_id) "
            "INCLUDE (organization_id, sku, gmv, orders, units, name)"
        )


def drop_covering_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("livestreams", "0002_creatorday"),
    ]

    operations = [
        migrations.AlterField(
            model_name="productsale",
            name="livestream",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="products",
                to="livestreams.livestream",
                verbose_name="直播",
            ),
        ),
        migrations.RunPython(create_covering_index, drop_covering_index),
    ]
