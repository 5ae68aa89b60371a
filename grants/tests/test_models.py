import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants.factories import GrantFactory, GrantRequestFactory
from grants.models import Grant, GrantEvent, GrantRequest, GrantRequestStatus, GrantStatus, request_status_of, status_of
from grants.speedups import capped_counts
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory
from tests.model import spec_model as spec

from .conftest import TODAY, d

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({"scheduled": True}, GrantStatus.SCHEDULED),
        ({}, GrantStatus.ACTIVE),
        ({"expired": True}, GrantStatus.EXPIRED),
        ({"revoked": True}, GrantStatus.REVOKED),
        ({"revoked": True, "expired": True}, GrantStatus.REVOKED),
    ],
)
def test_status_property_and_annotation_agree(frozen_today, traits, expected):
    grant = GrantFactory(**traits)
    annotated = Grant.objects.with_status().get(pk=grant.pk)
    assert grant.status == expected
    assert annotated.status_value == expected
    assert Grant.objects.with_status_in([expected]).filter(pk=grant.pk).exists()
    others = [s for s in GrantStatus.values if s != expected]
    assert not Grant.objects.with_status_in(others).filter(pk=grant.pk).exists()


@pytest.mark.parametrize(
    ("starts", "ends", "expected"),
    [
        (d(1), d(1), GrantStatus.SCHEDULED),  # starts tomorrow
        (d(0), d(0), GrantStatus.ACTIVE),  # a one-day grant, today
        (d(-5), d(0), GrantStatus.ACTIVE),  # last valid day
        (d(-5), d(-1), GrantStatus.EXPIRED),  # first invalid day
    ],
)
def test_status_at_the_boundaries(frozen_today, starts, ends, expected):
    grant = GrantFactory(starts_on=starts, ends_on=ends)
    assert grant.status == expected
    assert Grant.objects.with_status().get(pk=grant.pk).status_value == expected


@given(
    start=st.integers(-400, 400),
    length=st.integers(0, 400),
    revoked=st.booleans(),
    day=st.integers(-800, 800),
)
def test_status_definition_is_total_and_exclusive(start, length, revoked, day):
    """Every grant has exactly one status on every day, and the python rule picks it."""
    grant = Grant(
        starts_on=d(start), ends_on=d(start + length), revoked_at=datetime.datetime.now() if revoked else None
    )
    today = d(day)
    status = status_of(grant, today)
    if revoked:
        assert status == GrantStatus.REVOKED
    elif today < grant.starts_on:
        assert status == GrantStatus.SCHEDULED
    elif today > grant.ends_on:
        assert status == GrantStatus.EXPIRED
    else:
        assert status == GrantStatus.ACTIVE


def test_annotation_agrees_with_property_on_many_days(frozen_today):
    grants = [
        GrantFactory(starts_on=d(s), ends_on=d(s + n), organization=ShopFactory())
        for s, n in [(-3, 0), (-3, 3), (0, 0), (1, 5), (-10, 5), (2, 0)]
    ]
    for offset in range(-12, 10):
        day = d(offset)
        annotated = dict(Grant.objects.with_status(day).values_list("pk", "status_value"))
        assert annotated == {g.pk: g.status_on(day) for g in grants}


@pytest.mark.parametrize(
    ("starts", "ends", "expected"),
    [
        (d(-5), d(0), 1),  # 今天到期: the last day counts
        (d(-5), d(1), 2),
        (d(-5), d(-1), 0),  # expired
        (d(3), d(7), 5),  # scheduled: the whole period remains
        (d(0), d(0), 1),
    ],
)
def test_days_left(frozen_today, starts, ends, expected):
    assert GrantFactory(starts_on=starts, ends_on=ends).days_left == expected


def test_days_left_zero_when_revoked(frozen_today):
    assert GrantFactory(revoked=True).days_left == 0


def test_nearest_expiry_first_orders_live_ascending_then_dead_descending(frozen_today):
    creator = CreatorFactory()
    make = lambda **kw: GrantFactory(creator=creator, organization=ShopFactory(), **kw)  # noqa: E731
    active_late = make(starts_on=d(-1), ends_on=d(40))
    active_soon = make(starts_on=d(-1), ends_on=d(0))
    scheduled = make(starts_on=d(3), ends_on=d(10))
    expired_recent = make(starts_on=d(-20), ends_on=d(-1))
    expired_old = make(starts_on=d(-50), ends_on=d(-30))
    revoked_mid = make(starts_on=d(-5), ends_on=d(20), revoked=True)
    order = list(Grant.objects.for_creator(creator).nearest_expiry_first())
    assert order == [active_soon, scheduled, active_late, revoked_mid, expired_recent, expired_old]


def test_status_counts_in_one_query(frozen_today, django_assert_num_queries):
    creator = CreatorFactory()
    for traits in [{}, {}, {"scheduled": True}, {"expired": True}, {"revoked": True}]:
        GrantFactory(creator=creator, organization=AgencyFactory(), **traits)
    with django_assert_num_queries(1):
        counts = Grant.objects.for_creator(creator).status_counts()
    assert counts == {"all": 5, "active": 2, "scheduled": 1, "expired": 1, "revoked": 1}


def test_one_unrevoked_grant_per_pair_enforced_by_database(frozen_today):
    grant = GrantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(
            creator=grant.creator, organization=grant.organization, starts_on=TODAY, ends_on=TODAY, is_latest=False
        )


def test_revoked_grants_do_not_block_a_new_one(frozen_today):
    old = GrantFactory(revoked=True)
    new = GrantFactory(creator=old.creator, organization=old.organization)
    old.refresh_from_db()
    assert not old.is_latest
    assert new.is_latest
    assert list(Grant.objects.latest_per_pair()) == [new]


def test_ends_before_start_refused_by_database(frozen_today):
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(creator=CreatorFactory(), organization=ShopFactory(), starts_on=d(2), ends_on=d(1))


def test_history_is_immutable(frozen_today):
    event = GrantFactory().events.get()
    event.operation = GrantEvent.Operation.REVOKE
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        GrantEvent.objects.update(operation="revoke")
    with pytest.raises(PermissionError):
        GrantEvent.objects.all().delete()
    assert GrantEvent.objects.get().operation == GrantEvent.Operation.AUTHORIZE


# --- request expiry (SPEC §9): one definition, three readings ------------------------------------

AGES = st.one_of(
    st.integers(0, 20 * 86400),  # seconds since the request was made
    st.sampled_from([7 * 86400 - 1, 7 * 86400, 7 * 86400 + 1]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["pending", "approved", "declined", "expired"]), AGES, st.integers(0, 999)),
        min_size=1,
        max_size=8,
    )
)
def test_request_status_attribute_annotation_and_filters_agree_with_the_spec(frozen_today, rows):
    """The expiry rule read three ways — the request's ``status`` attribute, the query's
    annotation, the status filters of the tabs — and by the spec model, for requests of every age
    (whole seconds and microseconds, around exactly 7 days)."""
    now = timezone.now()
    shop = ShopFactory()
    with transaction.atomic():
        made = {}
        for index, (stored, seconds, micro) in enumerate(rows):
            created = now - datetime.timedelta(seconds=seconds, microseconds=micro)
            grant_request = GrantRequestFactory(
                organization=shop, creator=CreatorFactory(), status=stored, created_at=created, history=False
            )
            made[grant_request.pk] = request_status_of(stored, created, now)
            assert made[grant_request.pk] == spec.request_status(stored, made_at=created, now=now), index
        annotated = dict(GrantRequest.objects.with_current_status().values_list("pk", "status_now"))
        attribute = {r.pk: r.status for r in GrantRequest.objects.all()}
        filtered = {
            pk: status
            for status in GrantRequestStatus.values
            for pk in GrantRequest.objects.with_status(status).values_list("pk", flat=True)
        }
        assert annotated == attribute == filtered == made
        counts = GrantRequest.objects.status_counts()
        assert counts == {"all": len(made), **{s: list(made.values()).count(s) for s in GrantRequestStatus.values}}
        # The lists the tabs count, written as index ranges (expired: a UNION ALL of two), count the same.
        assert capped_counts(GrantRequest.objects.counted_by_status()) == counts
        transaction.set_rollback(True)


def test_a_request_expires_just_after_7_days_not_at(frozen_today):
    request = GrantRequestFactory()
    frozen_today.shift(datetime.timedelta(days=7))
    request.refresh_from_db()
    assert (request.status, request.can_decide(), GrantRequest.objects.pending().count()) == ("pending", True, 1)
    frozen_today.shift(datetime.timedelta(microseconds=1))
    request = GrantRequest.objects.get()
    assert (request.status, request.can_decide(), GrantRequest.objects.expired().count()) == ("expired", False, 1)
    assert request.get_status_display() == "过期未处理"
    # Reading is not writing: the row is still stored as pending (it still holds its place).
    assert GrantRequest.objects.values_list("status", flat=True).get() == "pending"
    request.save()
    assert GrantRequest.objects.values_list("status", flat=True).get() == "pending"


def test_the_status_of_a_request_loaded_without_its_time_is_still_read_now(frozen_today):
    GrantRequestFactory()
    frozen_today.shift(datetime.timedelta(days=8))
    assert GrantRequest.objects.only("pk", "status").get().status == "expired"
    assert GrantRequest.objects.only("pk", "created_at").get().status == "expired"
