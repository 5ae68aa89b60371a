"""Deep pages read keys first (portal.pagination.keys_first): the same rows in the same order as the
plain slice, in one query, for the pages around and past ``KEYS_FIRST_FROM``."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from portal.models import Organization
from portal.pagination import KEYS_FIRST_FROM, PER_PAGE, keys_first, paginate

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizations():
    Organization.objects.bulk_create(
        Organization(name=f"店铺{i % 7:02d}", kind="shop", code=f"keys-{i:04d}") for i in range(KEYS_FIRST_FROM + 60)
    )
    # An order with ties on its first key, broken by the id, and a join for the rows' own reads.
    return Organization.objects.order_by("name", "-pk")


@pytest.mark.parametrize("key", ["pk", "code"])  # the primary key, or another column unique among the rows
@pytest.mark.parametrize("start", [0, KEYS_FIRST_FROM - 1, KEYS_FIRST_FROM, KEYS_FIRST_FROM + 41, KEYS_FIRST_FROM + 59])
def test_keys_first_equals_the_plain_slice(organizations, start, key):
    plain = [o.pk for o in list(organizations)[start : start + PER_PAGE + 1]]
    with CaptureQueriesContext(connection) as queries:
        found = [o.pk for o in keys_first(organizations.all(), start, start + PER_PAGE + 1, key=key)]
    assert found == plain
    assert len(queries.captured_queries) == 1
    if connection.vendor == "postgresql" and start >= KEYS_FIRST_FROM:
        column = "id" if key == "pk" else key
        assert f'"portal_organization"."{column}" = ANY(ARRAY(' in queries.captured_queries[0]["sql"]


def test_a_deep_page_of_paginate_is_the_plain_page(organizations):
    number = KEYS_FIRST_FROM // PER_PAGE + 2
    page = paginate(organizations.all(), RequestFactory().get("/", {"page": number}))
    start = (number - 1) * PER_PAGE
    assert [o.pk for o in page] == [o.pk for o in list(organizations)[start : start + PER_PAGE]]
    assert page.has_next is (start + PER_PAGE < KEYS_FIRST_FROM + 60)
