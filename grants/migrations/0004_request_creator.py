"""Livestream requests get a copy of their livestream's creator, filled from the livestreams.

The column is made NOT NULL and indexed in the next migration: on PostgreSQL a table cannot be
altered in the transaction that has just updated its rows under a deferred foreign key.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_creators(apps, schema_editor):
    Request = apps.get_model("grants", "LivestreamAccessRequest")
    Livestream = apps.get_model("livestreams", "Livestream")
    Request.objects.using(schema_editor.connection.alias).update(
        creator_id=Subquery(Livestream.objects.filter(pk=OuterRef("livestream_id")).values("creator_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0003_list_indexes"),
        ("livestreams", "0002_creatorday"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="livestreamaccessrequest",
            name="creator",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="portal.creator",
                verbose_name="达人",
            ),
        ),
        migrations.RunPython(copy_creators, migrations.RunPython.noop),
    ]
