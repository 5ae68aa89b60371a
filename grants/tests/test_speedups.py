"""Each speed-up of ``grants.speedups`` equals the plain ORM path it replaces, on random data.

Run on SQLite and on PostgreSQL (``.ci/run`` runs the ``equivalence`` tests on both): where a
speed-up takes another path on PostgreSQL (the sliced UNION), that path is the one compared.
"""

import datetime
from contextlib import contextmanager

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants import speedups
from grants.models import Grant, LivestreamAccessRequest, RequestStatus
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import TODAY

pytestmark = [pytest.mark.django_db, pytest.mark.equivalence]

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rolled_back():
    """One example: its rows are undone, so the next one starts from the fixture's world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def parties():
    creators = [CreatorFactory() for _ in range(2)]
    organizations = [ShopFactory() for _ in range(3)]
    subs = [SubAccountFactory(organization=organizations[0])]
    return {"creators": creators, "organizations": organizations, "subs": subs}


# A pair's grants: every one but the last is revoked and no longer the latest (the database allows
# one unrevoked and one latest grant per pair); ``ends_on`` around TODAY, so ties and every status occur.
GRANT = st.tuples(st.integers(-6, 6), st.integers(0, 8), st.booleans())  # ends offset, length, revoked
PAIR_GRANTS = st.lists(GRANT, min_size=0, max_size=3)


def make_grants(parties, pairs: list[list[tuple[int, int, bool]]]) -> list[Grant]:
    rows = []
    combos = [(c, o) for c in parties["creators"] for o in parties["organizations"]]
    for (creator, organization), grants in zip(combos, pairs, strict=False):
        for index, (end, length, revoked) in enumerate(grants):
            last = index == len(grants) - 1
            ends_on = TODAY + datetime.timedelta(days=end)
            rows.append(
                Grant(
                    creator=creator, organization=organization, ends_on=ends_on,
                    starts_on=ends_on - datetime.timedelta(days=length), is_latest=last,
                    revoked_at=None if last and not revoked else datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                    revoked_by=None if last and not revoked else creator.user,
                )
            )  # fmt: skip
    return Grant.objects.bulk_create(rows)


PAIRS = st.lists(PAIR_GRANTS, min_size=6, max_size=6)
DAYS = st.integers(-8, 8).map(lambda offset: TODAY + datetime.timedelta(days=offset))


@EXAMPLES
@given(pairs=PAIRS, day=DAYS, start=st.integers(0, 20), size=st.integers(1, 25), latest=st.booleans())
def test_nearest_expiry_rows_equal_the_plain_order(parties, pairs, day, start, size, latest):
    with rolled_back():
        make_grants(parties, pairs)
        for party in (parties["creators"][0], parties["organizations"][0]):
            grants = Grant.objects.filter(**{type(party).__name__.lower(): party})
            if latest:
                grants = grants.latest_per_pair()
            plain = [g.pk for g in grants.nearest_expiry_first(day)][start : start + size]
            fast = [g.pk for g in speedups.nearest_expiry_rows(grants, day, start, start + size)]
            assert fast == plain


@EXAMPLES
@given(pairs=PAIRS, day=DAYS, cap=st.integers(1, 8))
def test_capped_counts_equal_min_of_count_and_cap(parties, pairs, day, cap):
    with rolled_back():
        make_grants(parties, pairs)
        lists = Grant.objects.for_creator(parties["creators"][0]).by_status(day)
        expected = {name: min(queryset.count(), cap) for name, queryset in lists.items()}
        assert speedups.capped_counts(lists, cap) == expected
        assert speedups.capped_counts(lists) == {name: queryset.count() for name, queryset in lists.items()}


@EXAMPLES
@given(pairs=PAIRS, day=DAYS, creator=st.integers(0, 1), organization=st.integers(0, 2))
def test_compiled_grant_checks_equal_their_querysets(parties, pairs, day, creator, organization):
    with rolled_back():
        make_grants(parties, pairs)
        creator, organization = parties["creators"][creator], parties["organizations"][organization]
        values = {"creator": creator.pk, "organization": organization.pk, "day": day}
        compiled = speedups.ACTIVE_GRANT.objects(**values)
        built = list(speedups.ACTIVE_GRANT.build(**values))
        assert [(g.pk, g.creator.pk, g.ends_on) for g in compiled] == [(g.pk, g.creator.pk, g.ends_on) for g in built]
        for user in (organization.main_account, parties["subs"][0], creator.user):
            values = {"creator": creator.pk, "user": user.pk, "day": day}
            compiled = speedups.ACTIVE_GRANT_OF_MAIN_ACCOUNT.objects(**values)
            built = list(speedups.ACTIVE_GRANT_OF_MAIN_ACCOUNT.build(**values))
            assert [g.pk for g in compiled] == [g.pk for g in built]


@pytest.fixture
def streams(parties):
    first, second = parties["organizations"][:2]
    creator = parties["creators"][0]
    return [
        LivestreamFactory(creator=creator, cooperating=[first], minutes=0),
        LivestreamFactory(creator=creator, cooperating=[first, second], minutes=0),
        LivestreamFactory(creator=parties["creators"][1], cooperating=[], minutes=0),
    ]


REQUESTS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(RequestStatus.values)),
    max_size=5,
    unique_by=lambda r: r[:2],
)


@EXAMPLES
@given(pairs=PAIRS, requests=REQUESTS, day=DAYS, stream=st.integers(0, 2), who=st.integers(0, 5))
def test_compiled_livestream_checks_equal_their_querysets(parties, streams, pairs, requests, day, stream, who):
    with rolled_back():
        make_grants(parties, pairs)
        organizations = parties["organizations"]
        for stream_index, organization_index, status in requests:
            organization = organizations[organization_index]
            LivestreamAccessRequest.objects.create(
                livestream=streams[stream_index], creator_id=streams[stream_index].creator_id,
                organization=organization, requested_by=organization.main_account, status=status,
            )  # fmt: skip
        livestream = streams[stream]
        users = [o.main_account for o in organizations] + parties["subs"] + [c.user for c in parties["creators"]]
        user = users[who % len(users)]
        values = {"user": user.pk, "livestream": livestream.pk, "creator": livestream.creator_id, "day": day}
        for query in (speedups.LIVESTREAM_ACCESS_OF_MEMBER, speedups.LIVESTREAM_ACCESS_OF_ANYONE):
            assert sorted(query.rows(**values), key=repr) == sorted(query.build(**values), key=repr)
