"""The minute table partitioned by month on PostgreSQL (``livestreams/partitions.py``); SQLite keeps
the plain table, and the model is unchanged.

The plain table is renamed aside, a table ``PARTITION BY RANGE (at)`` made ``LIKE`` it (columns,
checks, identity), a default partition and one partition per month from its oldest point to three
months ahead created, the rows copied, and then the keys added, so they are built once and the
foreign key checked by one join instead of row by row: the primary key becomes ``(id, at)`` (a
partitioned table's unique keys contain its partition key), the unique ``(livestream, at)`` and the
deferred foreign key to the livestream keep their names, as does the index on ``livestream``.
Reversible: the way back makes the plain table again the same way.
"""

from django.db import migrations

from livestreams.partitions import DEFAULT_PARTITION, MONTHS_AHEAD, TABLE, Month, ensure_months

ASIDE = f"{TABLE}_aside"
COLUMNS = '"id", "at", "online", "entries", "gmv", "orders", "livestream_id"'


def _names(cursor, table):
    """The names of the table's primary key, unique constraint, foreign key, livestream index and
    identity sequence, as the database has them."""
    cursor.execute(
        "SELECT contype, conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f')",
        [table],
    )
    constraints = dict(cursor.fetchall())
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef NOT LIKE '%%UNIQUE%%'",
        [table],
    )
    (index,) = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    return constraints["p"], constraints["u"], constraints["f"], index, sequence


def _set_aside(cursor, table):
    """Rename ``table`` and everything named after it out of the way; returns the old names."""
    primary, unique, foreign, index, sequence = _names(cursor, table)
    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{ASIDE}"')
    cursor.execute(f'ALTER TABLE "{ASIDE}" RENAME CONSTRAINT "{primary}" TO "{ASIDE}_pkey"')
    cursor.execute(f'ALTER TABLE "{ASIDE}" RENAME CONSTRAINT "{unique}" TO "{ASIDE}_unique"')
    cursor.execute(f'ALTER INDEX "{index}" RENAME TO "{ASIDE}_livestream"')
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO \"{ASIDE}_id_seq\"")
    return primary, unique, foreign, index


def _copy_and_key(cursor, *, primary_key, names):
    """Copy the rows aside into the new table, add its keys and index, move its identity on, drop
    the table aside."""
    primary, unique, foreign, index = names
    cursor.execute(f'INSERT INTO "{TABLE}" ({COLUMNS}) SELECT {COLUMNS} FROM "{ASIDE}"')  # noqa: S608
    cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{primary}" PRIMARY KEY ({primary_key})')
    cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{unique}" UNIQUE ("livestream_id", "at")')
    cursor.execute(
        f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{foreign}" FOREIGN KEY ("livestream_id") '
        'REFERENCES "livestreams_livestream" ("id") DEFERRABLE INITIALLY DEFERRED'
    )
    cursor.execute(f'CREATE INDEX "{index}" ON "{TABLE}" ("livestream_id")')
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), GREATEST(MAX(id), 1), MAX(id) IS NOT NULL) "
        f'FROM "{TABLE}"'  # noqa: S608
    )
    cursor.execute(f'DROP TABLE "{ASIDE}"')


def _rebuild(schema_editor, *, partitioned: bool):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        names = _set_aside(cursor, TABLE)
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{ASIDE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)'
            + (' PARTITION BY RANGE ("at")' if partitioned else "")
        )
        if partitioned:
            cursor.execute(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT')
            cursor.execute(f'SELECT MIN("at") FROM "{ASIDE}"')  # noqa: S608
            (oldest,) = cursor.fetchone()
            ensure_months(connection, ahead=MONTHS_AHEAD, since=Month.of(oldest) if oldest else None)
        _copy_and_key(cursor, primary_key='"id", "at"' if partitioned else '"id"', names=names)


def partition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("livestreams", "0003_productsale_covering_index"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
