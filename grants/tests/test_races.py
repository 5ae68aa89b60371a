"""Two operations racing on the same grant are serialized (PostgreSQL: real row locks)."""

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory, LivestreamAccessRequestFactory
from grants.models import Grant, GrantEvent, GrantRequest, GrantRequestEvent, LivestreamAccessRequest
from notifications.models import Message
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


# --- full-data and extension requests (SPEC §9) ----------------------------------------------------


def _ask(creator, shop):
    today = timezone.localdate()
    return lambda: services.request_grant(
        creator=creator, starts_on=today, ends_on=today + datetime.timedelta(days=30), actor=shop.main_account
    )


def test_concurrent_full_data_requests_make_one_pending_request():
    creator, shop = CreatorFactory(), ShopFactory()
    results = race(*[_ask(creator, shop) for _ in range(8)])
    made = [r for r in results if isinstance(r, GrantRequest)]
    refusals = [r for r in results if isinstance(r, ValidationError)]
    assert len(made) == 1, results
    assert len(refusals) == 7, results
    assert all(error_codes(r) == {"pending_exists"} for r in refusals), results
    assert GrantRequest.objects.count() == 1
    assert GrantRequestEvent.objects.count() == 1
    assert Message.objects.filter(kind="grant_request_received").count() == 1


def test_concurrent_requests_after_an_expired_one_close_it_once_and_make_one():
    """The pending-request constraint cannot see the time: the expired row is closed under its lock
    by the first request; the others then find the new pending one."""
    for _ in range(3):
        creator, shop = CreatorFactory(), ShopFactory()
        old = GrantRequestFactory(creator=creator, organization=shop, expired=True)
        assert GrantRequest.objects.values_list("status", flat=True).get(pk=old.pk) == "pending"  # stored
        results = race(*[_ask(creator, shop) for _ in range(6)])
        made = [r for r in results if isinstance(r, GrantRequest)]
        refusals = [r for r in results if isinstance(r, ValidationError)]
        assert len(made) == 1, results
        assert all(error_codes(r) == {"pending_exists"} for r in refusals), results
        assert len(refusals) == 5, results
        stored = dict(GrantRequest.objects.filter(creator=creator).values_list("pk", "status"))
        assert stored == {old.pk: "expired", made[0].pk: "pending"}


def test_approve_racing_decline_of_a_full_data_request_applies_exactly_one():
    for _ in range(5):
        creator, shop = CreatorFactory(), ShopFactory()
        grant_request = _ask(creator, shop)()
        approved, declined = race(
            lambda r=grant_request, u=creator.user: services.approve_grant_request(request=r, actor=u),
            lambda r=grant_request, u=creator.user: services.decline_grant_request(request=r, actor=u, reason="否"),
        )
        outcomes = [r for r in (approved, declined) if not isinstance(r, Exception)]
        refusals = [r for r in (approved, declined) if isinstance(r, ValidationError)]
        assert len(outcomes) == 1, (approved, declined)
        assert len(refusals) == 1, (approved, declined)
        assert error_codes(refusals[0]) == {"not_pending"}
        grant_request.refresh_from_db()
        assert grant_request.events.count() == 2
        assert Grant.objects.filter(creator=creator).count() == (1 if isinstance(approved, Grant) else 0)
        assert grant_request.status == ("approved" if isinstance(approved, Grant) else "declined")


def test_two_approvals_of_one_request_make_one_grant():
    creator, shop = CreatorFactory(), ShopFactory()
    grant_request = _ask(creator, shop)()
    results = race(*[(lambda: services.approve_grant_request(request=grant_request, actor=creator.user))] * 4)
    assert len([r for r in results if isinstance(r, Grant)]) == 1, results
    assert all(error_codes(r) == {"not_pending"} for r in results if isinstance(r, ValidationError))
    assert Grant.objects.count() == 1
    assert GrantEvent.objects.count() == 1
    assert Message.objects.filter(kind="grant_request_approved").count() == 1


def test_approving_a_request_racing_a_direct_authorization_makes_one_grant():
    for _ in range(5):
        creator, shop = CreatorFactory(), ShopFactory()
        grant_request = _ask(creator, shop)()
        today = timezone.localdate()
        approved, authorized = race(
            lambda r=grant_request, u=creator.user: services.approve_grant_request(request=r, actor=u),
            lambda c=creator, s=shop, day=today: services.authorize(
                creator=c, organization=s, starts_on=day, ends_on=day, actor=c.user
            ),
        )
        grants = [r for r in (approved, authorized) if isinstance(r, Grant)]
        refusals = [r for r in (approved, authorized) if isinstance(r, ValidationError)]
        assert len(grants) == 1, (approved, authorized)
        assert len(refusals) == 1, (approved, authorized)
        assert error_codes(refusals[0]) == {"already_granted"}
        assert Grant.objects.filter(creator=creator).count() == 1
        grant_request.refresh_from_db()
        assert grant_request.status == ("approved" if isinstance(approved, Grant) else "pending")


def test_two_bulk_approvals_of_the_same_requests_apply_each_once():
    from grants import bulk

    creator = CreatorFactory()
    requests = [_ask(creator, ShopFactory())() for _ in range(6)]
    ids = [r.pk for r in requests]

    def approve_all():
        items = list(GrantRequest.objects.filter(pk__in=ids))
        return bulk.approve_grant_requests(items, ids, actor=creator.user)

    first, second = race(approve_all, approve_all)
    assert len(first.applied) + len(second.applied) == 6, (first, second)
    assert first.skipped_count + second.skipped_count == 6
    assert set(first.skipped) | set(second.skipped) <= {"not_pending"}
    assert Grant.objects.filter(creator=creator).count() == 6
    assert GrantRequestEvent.objects.filter(operation="approve").count() == 6


def test_concurrent_livestream_requests_after_an_expired_one_make_one():
    from livestreams.factories import LivestreamFactory
    from portal.factories import SubAccountFactory

    shop = ShopFactory()
    stream = LivestreamFactory(cooperating=[shop], minutes=0)
    old = LivestreamAccessRequestFactory(livestream=stream, organization=shop, expired=True)
    members = [shop.main_account] + [SubAccountFactory(organization=shop) for _ in range(5)]
    results = race(*[(lambda m=m: services.request_livestream_access(livestream=stream, actor=m)) for m in members])
    assert all(isinstance(r, LivestreamAccessRequest) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert results[0].pk != old.pk
    stored = dict(LivestreamAccessRequest.objects.values_list("pk", "status"))
    assert stored == {old.pk: "expired", results[0].pk: "pending"}


def test_a_request_made_while_its_pair_is_being_approved_sees_the_grant():
    """Asking and deciding lock the creator first: a second full-data request racing the approval
    of the first is either refused as already granted or, if it came first, finds the first pending.
    Never a pending request beside a live grant."""
    for _ in range(5):
        creator, shop = CreatorFactory(), ShopFactory()
        first = _ask(creator, shop)()
        other_kind = GrantRequest.objects.filter(pk=first.pk)
        approved, asked = race(
            lambda r=first, u=creator.user: services.approve_grant_request(request=r, actor=u), _ask(creator, shop)
        )
        assert isinstance(approved, Grant), approved
        assert isinstance(asked, ValidationError), asked
        assert error_codes(asked) <= {"already_granted", "pending_exists"}
        assert not GrantRequest.objects.filter(creator=creator).pending().exists()
        assert other_kind.get().status == "approved"


# --- scopes and delegations (SPEC §12) ---------------------------------------------------------------


def _delegation_world():
    from portal.factories import SubAccountFactory

    grant = GrantFactory(organization=ShopFactory())
    sub = SubAccountFactory(organization=grant.organization)
    return grant, sub


def test_delegate_racing_revoke_never_leaves_an_effective_delegation():
    from grants import access
    from grants.models import Delegation

    for _ in range(5):
        grant, sub = _delegation_world()
        main = grant.organization.main_account
        delegated, revoked = race(
            lambda g=grant, s=sub, m=main: services.delegate(grant=g, sub_account=s, ends_on=g.ends_on, actor=m),
            lambda g=grant: services.revoke(grant=g, actor=g.creator.user),
        )
        assert isinstance(revoked, Grant), revoked  # revoking a live grant always succeeds
        assert not access.creator_access(sub, grant.creator)
        told = Message.objects.filter(recipient=sub, kind="grant_changed", params__operation="revoke")
        if isinstance(delegated, Delegation):  # delegated first: the revocation told the delegate
            assert told.count() == 1
        else:  # revoked first: the delegation was refused, and the sub-account was told nothing of it
            assert error_codes(delegated) == {"not_delegable"}
            assert not Delegation.objects.filter(grant=grant).exists()
            assert not told.exists()


def test_change_scope_racing_delegate_keeps_the_delegation_within_the_grant():
    from grants import access
    from grants.models import Delegation, scope_of

    for _ in range(5):
        grant, sub = _delegation_world()
        main = grant.organization.main_account
        changed, delegated = race(
            lambda g=grant: services.change_scope(grant=g, scope=["overview"], actor=g.creator.user),
            lambda g=grant, s=sub, m=main: services.delegate(
                grant=g, sub_account=s, ends_on=g.ends_on, actor=m, scope=["overview", "livestreams"]
            ),
        )
        assert isinstance(changed, Grant), changed
        grant.refresh_from_db()
        assert grant.scope == scope_of(["overview"])
        # Either way the delegate sees only what both scopes share: the narrowed grant's overview.
        parts = access.creator_access(sub, grant.creator).parts
        if isinstance(delegated, Delegation):  # delegated before the narrowing, which told the delegate
            assert parts == {"overview"}
            assert Message.objects.filter(recipient=sub, params__operation="change_scope").count() == 1
            change = grant.events.get(operation="change_scope")
            assert delegated.created_at <= change.at
        else:  # narrowed first: the wider delegation is beyond the grant
            assert error_codes(delegated) == {"beyond_grant"}
            assert parts == set()


def test_concurrent_delegations_to_one_sub_account_make_one():
    from grants.models import Delegation, DelegationEvent

    grant, sub = _delegation_world()
    main = grant.organization.main_account
    results = race(
        *[
            (lambda: services.delegate(grant=grant, sub_account=sub, ends_on=grant.ends_on, actor=main))
            for _ in range(6)
        ]
    )
    made = [r for r in results if isinstance(r, Delegation)]
    assert len(made) == 1, results
    assert all(error_codes(r) == {"already_delegated"} for r in results if not isinstance(r, Delegation))
    assert DelegationEvent.objects.count() == 1
