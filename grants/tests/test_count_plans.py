"""The request counts are index-only range scans (PostgreSQL): every capped count of the creator's
request list (each tab, "all" included), of the grant list's request tabs, and of the navigation's
pending badges reads the entries of one index range, and no table row.

What is asserted is what the indexes and the conditions make possible, not what the planner picks
for a table of a few dozen rows (a sequential scan, rightly): the counts are planned with
sequential and bitmap scans disabled, after ``VACUUM ANALYZE``, and each scan of a request (or
message) table must then be an ``Index Only Scan`` with no heap fetch whose index condition holds
the party and that leaves out nothing it read. A count that needs a column outside its index, or
whose condition the index cannot range over (pending written as ``pending AND NOT (pending AND
old)``, expired as one OR), fails here. On the bench data set the planner picks these plans
unforced (docs/performance.md, item 24).
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from grants.context_processors import SHELL_COUNTS, pending_badges
from grants.models import GrantRequest, LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory
from portal.models import Organization

pytestmark = [
    pytest.mark.django_db(transaction=True),  # VACUUM runs outside a transaction
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans"),
]

COUNTED = {"grants_livestreamaccessrequest", "grants_grantrequest", "notifications_message"}
PARTY_COLUMNS = ("creator_id", "recipient_id")

# Per creator: young pending, lapsed pending (stored pending, older than the 7-day expiry), then the
# decided statuses and the stored "expired". Enough rows that reading a party's every pending
# request (another index holds them: the one-pending constraints' partial indexes) costs more
# than the range of the young ones, as it does on a real table.
LIVESTREAM_REQUESTS = {
    "young": 20, "lapsed": 150, "approved": 60, "declined": 40, "revoked": 30, "expired": 20, "ended": 10,
}  # fmt: skip
GRANT_REQUESTS = {"young": 10, "lapsed": 150, "approved": 40, "declined": 30, "expired": 20}
ORGANIZATIONS = 200


def _made(kind: str) -> tuple[str, datetime.datetime]:
    now = timezone.now()
    if kind == "young":
        return "pending", now - datetime.timedelta(days=1)
    if kind == "lapsed":
        return "pending", now - datetime.timedelta(days=9)
    return kind, now - datetime.timedelta(days=3)


@pytest.fixture
def creator():
    """Two creators with requests in every status (the counts must range over one of them), and
    VACUUM ANALYZE: the visibility map set, as autovacuum keeps it on a long-lived table."""
    asker = ShopFactory()
    shops = Organization.objects.bulk_create(
        Organization(name=f"店铺{i}", kind=Organization.Kind.SHOP, code=f"plans-{i:04d}") for i in range(ORGANIZATIONS)
    )
    creators = [CreatorFactory(), CreatorFactory()]
    for who in creators:
        livestreams = [LivestreamFactory(creator=who, cooperating=[], minutes=0) for _ in range(2)]
        slots = iter((livestream, shop) for livestream in livestreams for shop in shops)
        rows = []
        for kind, count in LIVESTREAM_REQUESTS.items():
            status, made = _made(kind)
            for _ in range(count):
                # one open (pending or approved) request per (livestream, organization)
                livestream, shop = next(slots) if status in ("pending", "approved") else (livestreams[0], shops[0])
                rows.append(
                    LivestreamAccessRequest(
                        livestream=livestream, creator=who, organization=shop, requested_by=asker.main_account,
                        status=status, created_at=made,
                    )
                )  # fmt: skip
        LivestreamAccessRequest.objects.bulk_create(rows)
        rows = []
        shop_of = iter(shops)
        for kind, count in GRANT_REQUESTS.items():
            status, made = _made(kind)
            for _ in range(count):
                shop = next(shop_of) if status == "pending" else shops[0]  # one pending per organization
                rows.append(
                    GrantRequest(
                        creator=who, organization=shop, kind=GrantRequest.Kind.GRANT, requested_by=asker.main_account,
                        starts_on=made.date(), ends_on=made.date() + datetime.timedelta(days=30), status=status,
                        created_at=made,
                    )
                )  # fmt: skip
        GrantRequest.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE grants_livestreamaccessrequest, grants_grantrequest, notifications_message")
    return creators[0]


class CountQueries:
    """The capped counts' statements (``SELECT (SELECT COUNT(*) …), …``) run while it is active, and
    the user's query that counts the bell (``notifications.context_processors.unread_annotation``)."""

    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("SELECT (SELECT COUNT(*) FROM") or (
            sql.startswith('SELECT "portal_user"') and "notifications_message" in sql
        ):
            self.statements.append((sql, params))
        return execute(sql, params, many, context)


def _scans(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


def _counted_scans(sql: str, params) -> list[dict]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = list(_scans(plan[0]["Plan"]))
    # The counts that are ordered are ordered as their index is: nothing sorts a counted range
    # (a sort would read all of it, past the cap).
    for sort in (node for node in nodes if node["Node Type"] in ("Sort", "Incremental Sort")):
        assert not any(node.get("Relation Name") in COUNTED for node in _scans(sort)), sort["Sort Key"]
    return [node for node in nodes if node.get("Relation Name") in COUNTED]


def _assert_index_only(scans: list[dict]) -> None:
    assert scans
    for node in scans:
        where = json.dumps({key: node.get(key) for key in ("Node Type", "Relation Name", "Index Cond", "Filter")})
        assert node["Node Type"] == "Index Only Scan", where
        assert node["Heap Fetches"] == 0, where
        assert any(column in node["Index Cond"] for column in PARTY_COLUMNS), where
        assert node.get("Rows Removed by Filter", 0) == 0, where


def _run_counting(call) -> list[tuple[str, tuple]]:
    counts = CountQueries()
    with connection.execute_wrapper(counts):
        call()
    assert counts.statements
    return counts.statements


@pytest.mark.parametrize("status", ["all", "pending", "expired"])
def test_the_request_lists_counts_are_index_only(client, creator, status):
    client.force_login(creator.user)
    statements = _run_counting(lambda: client.get(reverse("grants:creator_requests"), {"status": status}))
    scans = [scan for sql, params in statements for scan in _counted_scans(sql, params)]
    _assert_index_only(scans)
    # "all", the six statuses (expired: two ranges), the two pending badges and the bell
    assert len(scans) == 1 + 6 + 1 + 2 + 1


def test_the_grant_lists_request_counts_are_index_only(client, creator):
    client.force_login(creator.user)
    statements = _run_counting(lambda: client.get(reverse("grants:creator_grants"), {"status": "pending"}))
    scans = [scan for sql, params in statements for scan in _counted_scans(sql, params)]
    _assert_index_only(scans)
    # the pending and "all" request tabs, the two pending badges and the bell
    assert len(scans) == 5


def test_the_navigation_badges_are_index_only(creator):
    badges = pending_badges(creator, creator.user)
    statements = _run_counting(lambda: [str(badges[name]) for name in SHELL_COUNTS])
    scans = [scan for sql, params in statements for scan in _counted_scans(sql, params)]
    _assert_index_only(scans)
    assert len(scans) == 3
