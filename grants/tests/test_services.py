"""The four operations of SPEC §4, each rule at its boundary, each refusal by its code."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from grants import services
from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent, GrantStatus
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import TODAY, at_shanghai, d, error_codes

pytestmark = pytest.mark.django_db


def codes(excinfo) -> set[str]:
    return error_codes(excinfo.value)


def snapshot():
    return (
        list(Grant.objects.order_by("pk").values()),
        GrantEvent.objects.count(),
    )


# --- authorize ---------------------------------------------------------------------------


def test_authorize_creates_grant_and_history(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    grant = services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(30), actor=creator.user)
    assert grant.status == GrantStatus.ACTIVE
    event = grant.events.get()
    assert event.operation == GrantEvent.Operation.AUTHORIZE
    assert event.actor == creator.user
    assert (event.starts_before, event.ends_before, event.starts_after, event.ends_after) == (None, None, d(0), d(30))


def test_authorize_starting_today_is_allowed_but_yesterday_refused(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.authorize(creator=creator, organization=shop, starts_on=d(-1), ends_on=d(5), actor=creator.user)
    assert codes(excinfo) == {"starts_in_past"}
    assert snapshot() == before
    grant = services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(0), actor=creator.user)
    assert grant.status == GrantStatus.ACTIVE
    assert grant.days_left == 1


def test_authorize_future_start_is_scheduled(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    grant = services.authorize(creator=creator, organization=shop, starts_on=d(1), ends_on=d(1), actor=creator.user)
    assert grant.status == GrantStatus.SCHEDULED


def test_authorize_end_before_start_refused(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.authorize(creator=creator, organization=shop, starts_on=d(5), ends_on=d(4), actor=creator.user)
    assert codes(excinfo) == {"ends_before_start"}
    assert snapshot() == before


@pytest.mark.parametrize("traits", [{}, {"scheduled": True}, {"expired": True}])
def test_authorize_refused_while_a_grant_is_not_revoked(frozen_today, traits):
    existing = GrantFactory(**traits)
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.authorize(
            creator=existing.creator, organization=existing.organization, starts_on=d(0), ends_on=d(9),
            actor=existing.creator.user,
        )  # fmt: skip
    assert codes(excinfo) == {"already_granted"}
    assert snapshot() == before


def test_authorize_after_revoke_creates_a_new_grant(frozen_today):
    old = GrantFactory(revoked=True)
    grant = services.authorize(
        creator=old.creator, organization=old.organization, starts_on=d(0), ends_on=d(9), actor=old.creator.user
    )
    old.refresh_from_db()
    assert grant.pk != old.pk
    assert old.status == GrantStatus.REVOKED
    assert not old.is_latest
    assert grant.is_latest


def test_authorize_by_someone_else_is_permission_denied(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    before = snapshot()
    for actor in [CreatorFactory().user, shop.main_account, SubAccountFactory(organization=shop)]:
        with pytest.raises(PermissionDenied):
            services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(3), actor=actor)
    assert snapshot() == before


# --- revoke -------------------------------------------------------------------------------


@pytest.mark.parametrize("traits", [{}, {"scheduled": True}])
def test_revoke_live_grant(frozen_today, traits):
    grant = GrantFactory(**traits)
    revoked = services.revoke(grant=grant, actor=grant.creator.user)
    assert revoked.status == GrantStatus.REVOKED
    assert revoked.revoked_by == grant.creator.user
    assert revoked.events.filter(operation=GrantEvent.Operation.REVOKE).count() == 1


@pytest.mark.parametrize("traits", [{"expired": True}, {"revoked": True}])
def test_revoke_refused_for_expired_or_revoked(frozen_today, traits):
    grant = GrantFactory(**traits)
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.revoke(grant=grant, actor=grant.creator.user)
    assert codes(excinfo) == {"not_revocable"}
    assert snapshot() == before


def test_revoke_on_the_last_day_is_allowed(frozen_today):
    grant = GrantFactory(starts_on=d(-3), ends_on=d(0))
    assert services.revoke(grant=grant, actor=grant.creator.user).status == GrantStatus.REVOKED


def test_revoke_by_organization_is_permission_denied(frozen_today):
    grant = GrantFactory()
    with pytest.raises(PermissionDenied):
        services.revoke(grant=grant, actor=grant.organization.main_account)
    grant.refresh_from_db()
    assert grant.revoked_at is None


# --- renew early ---------------------------------------------------------------------------


def test_renew_early_moves_end_and_records_renewal_from_tomorrow(frozen_today):
    grant = GrantFactory(starts_on=d(-10), ends_on=d(5))
    renewed = services.renew_early(grant=grant, ends_on=d(6), actor=grant.creator.user)
    assert (renewed.starts_on, renewed.ends_on) == (d(-10), d(6))
    event = renewed.events.get(operation=GrantEvent.Operation.RENEW_EARLY)
    assert event.renewal_starts_on == d(1)
    assert (event.starts_before, event.ends_before, event.starts_after, event.ends_after) == (
        d(-10),
        d(5),
        d(-10),
        d(6),
    )


def test_renew_early_refused_when_new_end_not_later(frozen_today):
    grant = GrantFactory(starts_on=d(-10), ends_on=d(5))
    before = snapshot()
    for ends_on in (d(5), d(4)):
        with pytest.raises(ValidationError) as excinfo:
            services.renew_early(grant=grant, ends_on=ends_on, actor=grant.creator.user)
        assert codes(excinfo) == {"end_not_later"}
    assert snapshot() == before


def test_renew_early_of_scheduled_keeps_start(frozen_today):
    grant = GrantFactory(scheduled=True)
    renewed = services.renew_early(
        grant=grant, ends_on=grant.ends_on + datetime.timedelta(days=1), actor=grant.creator.user
    )
    assert renewed.starts_on == grant.starts_on
    assert renewed.status == GrantStatus.SCHEDULED


def test_renew_early_on_last_day_keeps_access_continuous(frozen_today):
    grant = GrantFactory(starts_on=d(-3), ends_on=d(0))
    services.renew_early(grant=grant, ends_on=d(1), actor=grant.creator.user)
    frozen_today.move_to(at_shanghai(d(1), 0, 0, 0))
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE


@pytest.mark.parametrize("traits", [{"expired": True}, {"revoked": True}])
def test_renew_early_refused_unless_live(frozen_today, traits):
    grant = GrantFactory(**traits)
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.renew_early(grant=grant, ends_on=d(100), actor=grant.creator.user)
    assert codes(excinfo) == {"not_renewable_early"}
    assert snapshot() == before


# --- renew ------------------------------------------------------------------------------------


def test_renew_expired_yesterday(frozen_today):
    grant = GrantFactory(starts_on=d(-10), ends_on=d(-1))
    renewed = services.renew(grant=grant, starts_on=d(0), ends_on=d(0), actor=grant.creator.user)
    assert renewed.pk == grant.pk
    assert renewed.status == GrantStatus.ACTIVE
    event = renewed.events.get(operation=GrantEvent.Operation.RENEW)
    assert (event.starts_before, event.ends_before, event.starts_after, event.ends_after) == (d(-10), d(-1), d(0), d(0))


def test_renew_refused_for_grant_ending_today(frozen_today):
    grant = GrantFactory(starts_on=d(-10), ends_on=d(0))
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.renew(grant=grant, starts_on=d(1), ends_on=d(9), actor=grant.creator.user)
    assert codes(excinfo) == {"not_expired"}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("starts", "ends", "code"), [(d(-1), d(5), "starts_in_past"), (d(3), d(2), "ends_before_start")]
)
def test_renew_period_rules(frozen_today, starts, ends, code):
    grant = GrantFactory(expired=True)
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.renew(grant=grant, starts_on=starts, ends_on=ends, actor=grant.creator.user)
    assert codes(excinfo) == {code}
    assert snapshot() == before


def test_renew_into_the_future_is_scheduled(frozen_today):
    grant = GrantFactory(expired=True)
    assert services.renew(grant=grant, starts_on=d(2), ends_on=d(2), actor=grant.creator.user).status == "scheduled"


@pytest.mark.parametrize("traits", [{}, {"scheduled": True}, {"revoked": True}])
def test_renew_refused_unless_expired(frozen_today, traits):
    grant = GrantFactory(**traits)
    with pytest.raises(ValidationError) as excinfo:
        services.renew(grant=grant, starts_on=d(0), ends_on=d(9), actor=grant.creator.user)
    assert codes(excinfo) == {"not_expired"}


def test_other_creator_cannot_operate_on_grant(frozen_today):
    grant = GrantFactory()
    intruder = CreatorFactory().user
    before = snapshot()
    for call in (
        lambda: services.revoke(grant=grant, actor=intruder),
        lambda: services.renew_early(grant=grant, ends_on=d(99), actor=intruder),
        lambda: services.renew(grant=grant, starts_on=d(0), ends_on=d(9), actor=intruder),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert snapshot() == before


def test_midnight_shanghai_decides_today(frozen_today):
    """23:59:59 on the 28th in Shanghai is still the 28th (15:59 UTC); 00:00 is the 29th."""
    creator, shop = CreatorFactory(), ShopFactory()
    frozen_today.move_to(at_shanghai(TODAY, 23, 59, 59))
    services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(0), actor=creator.user)
    frozen_today.move_to(at_shanghai(d(1), 0, 0, 0))
    with pytest.raises(ValidationError) as excinfo:
        services.authorize(
            creator=creator, organization=ShopFactory(), starts_on=d(0), ends_on=d(3), actor=creator.user
        )
    assert codes(excinfo) == {"starts_in_past"}
