"""Two operations racing on the same grant are serialized (PostgreSQL: real row locks)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent
from portal.factories import CreatorFactory, ShopFactory

from .conftest import error_codes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are tested on PostgreSQL"),
]


def race(*calls):
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is the assertion
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_concurrent_authorizations_of_one_pair_create_one_grant():
    creator, shop = CreatorFactory(), ShopFactory()
    today = timezone.localdate()
    results = race(
        *[
            (lambda: services.authorize(
                creator=creator, organization=shop, starts_on=today, ends_on=today, actor=creator.user
            ))
            for _ in range(8)
        ]
    )  # fmt: skip
    grants = [r for r in results if isinstance(r, Grant)]
    refusals = [r for r in results if isinstance(r, ValidationError)]
    assert len(grants) == 1, results
    assert len(refusals) == 7, results
    assert all(error_codes(r) == {"already_granted"} for r in refusals)
    assert Grant.objects.count() == 1
    assert GrantEvent.objects.count() == 1


def test_revoke_racing_early_renewal_leaves_one_consistent_outcome():
    for _ in range(5):
        grant = GrantFactory(organization=ShopFactory())
        new_end = grant.ends_on.replace(year=grant.ends_on.year + 1)
        revoked, renewed = race(
            lambda g=grant: services.revoke(grant=g, actor=g.creator.user),
            lambda g=grant, e=new_end: services.renew_early(grant=g, ends_on=e, actor=g.creator.user),
        )
        grant.refresh_from_db()
        events = list(
            grant.events.exclude(operation="authorize").order_by("at", "pk").values_list("operation", flat=True)
        )
        assert isinstance(revoked, Grant), revoked  # revoking a live grant always succeeds, before or after
        assert grant.revoked_at is not None
        if isinstance(renewed, Grant):
            assert events == ["renew_early", "revoke"]
            assert grant.ends_on == new_end
        else:
            assert isinstance(renewed, ValidationError)
            assert error_codes(renewed) == {"not_renewable_early"}
            assert events == ["revoke"]
            assert grant.ends_on != new_end


def test_duplicate_concurrent_requests_create_one_pending():
    from grants.models import LivestreamAccessRequest
    from livestreams.factories import LivestreamFactory
    from portal.factories import SubAccountFactory

    shop = ShopFactory()
    stream = LivestreamFactory(cooperating=[shop], minutes=0)
    members = [shop.main_account] + [SubAccountFactory(organization=shop) for _ in range(5)]
    results = race(*[(lambda m=m: services.request_livestream_access(livestream=stream, actor=m)) for m in members])
    assert all(isinstance(r, LivestreamAccessRequest) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert LivestreamAccessRequest.objects.count() == 1
    assert LivestreamAccessRequest.objects.get().events.count() == 1


def test_approve_racing_decline_applies_exactly_one():
    from grants.models import LivestreamAccessRequest
    from livestreams.factories import LivestreamFactory

    for _ in range(5):
        shop = ShopFactory()
        stream = LivestreamFactory(cooperating=[shop], minutes=0)
        access_request = services.request_livestream_access(livestream=stream, actor=shop.main_account)
        creator_user = stream.creator.user
        approved, declined = race(
            lambda r=access_request, u=creator_user: services.approve_livestream_request(request=r, actor=u),
            lambda r=access_request, u=creator_user: services.decline_livestream_request(request=r, actor=u),
        )
        outcomes = [r for r in (approved, declined) if isinstance(r, LivestreamAccessRequest)]
        refusals = [r for r in (approved, declined) if isinstance(r, ValidationError)]
        assert len(outcomes) == 1, (approved, declined)
        assert len(refusals) == 1
        assert error_codes(refusals[0]) == {"not_pending"}
        access_request.refresh_from_db()
        assert access_request.status == outcomes[0].status
        assert access_request.events.count() == 2
