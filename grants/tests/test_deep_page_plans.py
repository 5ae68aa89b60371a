"""A deep page of a grant list reads the keys it skips from the indexes alone (PostgreSQL).

``speedups.nearest_expiry_rows`` finds a page's grants in three ordered ranges of the party's list
indexes and skips ``start`` keys in them. Each index holds the grant's id (migration 0042), so the
skipped keys are an ``Index Only Scan`` with no heap fetch; before, each was a read of the table
(page 400 of the bench's 100,000-grant creator: 10,039 buffers, 13.9 ms; index-only 7.9 ms,
docs/performance.md, item 26). Asserted as in ``test_count_plans``: with sequential and bitmap
scans disabled after ``VACUUM ANALYZE``, which a table of a few hundred rows needs and the bench's
million-grant data set does not.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from grants import speedups
from grants.factories import GrantFactory
from grants.models import Grant
from portal.factories import CreatorFactory, ShopFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),  # VACUUM runs outside a transaction
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans"),
]


def test_a_deep_page_skips_its_keys_index_only():
    creator = CreatorFactory()
    today = timezone.localdate()
    for i in range(240):
        starts = today - datetime.timedelta(days=400 - i)
        ends = today + datetime.timedelta(days=i - 120)  # half ended, half live
        grant = GrantFactory(creator=creator, organization=ShopFactory(), starts_on=starts, ends_on=max(ends, starts))
        if i % 7 == 0 and ends >= today:
            Grant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now(), revoked_by=creator.user)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE grants_grant")
    grants = Grant.objects.filter(creator=creator, is_latest=True)
    expected = list(grants.nearest_expiry_first(today))[200:221]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        captured = []

        def capture(execute, sql, params, many, context):
            captured.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            rows = speedups.nearest_expiry_rows(grants, today, 200, 221)
        assert [g.pk for g in rows] == [g.pk for g in expected]
        sql, params = captured[-1]
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    ranges = [line for line in plan.splitlines() if "grant_creator_" in line]
    assert len(ranges) == 3, plan
    assert all("Index Only Scan" in line for line in ranges), plan
    fetches = [line.split("Heap Fetches: ")[1] for line in plan.splitlines() if "Heap Fetches" in line]
    assert fetches, plan
    assert set(fetches) == {"0"}, plan
