"""Each speed-up of ``grants.speedups`` equals the plain ORM path it replaces, on random data.

Run on SQLite and on PostgreSQL (``.ci/run`` runs the ``equivalence`` tests on both): where a
speed-up takes another path on PostgreSQL (the sliced UNION), that path is the one compared.
"""

import datetime
from contextlib import contextmanager

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants import access, speedups
from grants.models import PARTS, Delegation, Grant, LivestreamAccessRequest, RequestStatus, parts_of
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory
from portal.models import Membership, User

from .conftest import SHANGHAI, TODAY

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
        # an explicit order is kept (the count walks its index in it): the same counts
        ordered = {name: queryset.order_by("-ends_on", "-pk") for name, queryset in lists.items()}
        assert speedups.capped_counts(ordered, cap) == expected


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


# --- scopes and delegations (SPEC §12) -----------------------------------------------------------

# A delegation: (which of the examples' grants, which sub-account, ends offset, scope mask, ended)
DELEGATIONS = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.integers(0, 2),
        st.integers(-2, 8),
        st.integers(1, 15),
        st.integers(0, 3).map(lambda n: n == 0),
    ),  # fmt: skip
    max_size=6,
    # one open delegation per (grant, sub-account), as the service keeps it (indexes below 6: the
    # first grant)
    unique_by=lambda d: (0, d[1]) if d[0] < 6 else d[:2],
)


def plain_parts(user, creator, day) -> frozenset:
    """What creator_access answers, from the plain definitions (no compiled query, no shortcut)."""
    if creator.user_id == user.pk:
        return frozenset(PARTS)
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        return frozenset()
    if membership.is_main:
        grant = Grant.objects.active_on(day).filter(creator=creator, organization_id=membership.organization_id).first()
        return parts_of(grant.scope) if grant else frozenset()
    parts = set()
    for delegation in Delegation.objects.effective_on(day).filter(sub_account=user, grant__creator=creator):
        parts |= parts_of(delegation.scope & delegation.grant.scope)
    return frozenset(parts)


def plain_modules(user, livestream, day) -> bool:
    if livestream.creator.user_id == user.pk:
        return True
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        return False
    approved = LivestreamAccessRequest.objects.approved().filter(
        livestream=livestream, organization_id=membership.organization_id
    )
    return approved.exists() or "modules" in plain_parts(user, livestream.creator, day)


@settings(EXAMPLES, max_examples=100)
@given(
    pairs=PAIRS, scopes=st.lists(st.integers(1, 15), min_size=12, max_size=12), delegations=DELEGATIONS,
    forbidden=st.sets(st.integers(0, 11), max_size=3), moved=st.booleans(), day=DAYS, creator=st.integers(0, 1),
    who=st.integers(0, 10), stream=st.integers(0, 2),
)  # fmt: skip
def test_creator_access_of_members_and_delegates_equals_the_plain_definition(
    parties, streams, pairs, scopes, delegations, forbidden, moved, day, creator, who, stream
):
    with rolled_back():
        # The first pair (creators[0], organizations[0]) always holds a grant active on every drawn
        # day, so most drawn delegations are of a live grant and the scopes' meeting is exercised.
        base = Grant.objects.create(
            creator=parties["creators"][0], organization=parties["organizations"][0],
            starts_on=TODAY - datetime.timedelta(days=8), ends_on=TODAY + datetime.timedelta(days=8),
        )  # fmt: skip
        grants = [base, *make_grants(parties, [[], *pairs[1:]])]
        for index, grant in enumerate(grants):
            grant.scope = scopes[index % len(scopes)]
            grant.delegation_allowed = index not in forbidden
        Grant.objects.bulk_update(grants, ["scope", "delegation_allowed"])
        organizations = parties["organizations"]
        subs = [
            parties["subs"][0],
            SubAccountFactory(organization=organizations[0]),
            SubAccountFactory(organization=organizations[1]),
        ]
        made = set()
        for grant_index, sub_index, end, scope, ended in delegations:
            grant = grants[0 if grant_index < 6 else grant_index % len(grants)]
            if (grant.pk, sub_index) in made:
                continue
            made.add((grant.pk, sub_index))
            Delegation.objects.create(
                grant=grant, sub_account=subs[sub_index], ends_on=TODAY + datetime.timedelta(days=end), scope=scope,
                created_by=grant.organization.main_account, ended_at=timezone.now() if ended else None,
                ended_by=grant.organization.main_account if ended else None,
            )  # fmt: skip
        if moved:  # a sub-account moved to another organization
            Membership.objects.filter(user=subs[0]).update(organization=organizations[2])
        creator = parties["creators"][creator]
        users = subs + [o.main_account for o in organizations] + [c.user for c in parties["creators"]]
        user = users[who % 2] if who < 6 else users[who % len(users)]  # mostly the base grant's sub-accounts
        livestream = streams[stream]
        with time_machine.travel(datetime.datetime.combine(day, datetime.time(12), tzinfo=SHANGHAI), tick=False):
            expected = plain_parts(user, creator, day)
            loaded = User.objects.select_related("membership", "creator").get(pk=user.pk)
            for asking, about in ((loaded, creator.pk), (loaded, creator), (User.objects.get(pk=user.pk), creator)):
                answer = access.creator_access(asking, about)
                assert answer.parts == expected
                assert bool(answer.authority) == (bool(expected) and creator.user_id != user.pk)
            for asking in (loaded, User.objects.get(pk=user.pk)):
                assert access.livestream_access(asking, livestream).modules == plain_modules(user, livestream, day)
            switchable = {a.creator.pk: a.parts for a in access.switchable(loaded, 50)}
            if not loaded.creator_or_none:
                assert switchable.get(creator.pk, frozenset()) == expected
