import pytest
from django.contrib.auth.models import AnonymousUser

from grants.access import can_view_creator_data, visible_grants
from grants.factories import GrantFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory
from portal.models import User

from .conftest import TODAY, at_shanghai, d

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as a request sees it: loaded without cached relations."""
    return User.objects.get(pk=user.pk)


def test_creator_sees_own_data_without_query(frozen_today, django_assert_num_queries):
    creator = CreatorFactory()
    user = fresh(creator.user)
    with django_assert_num_queries(0):
        assert can_view_creator_data(user, creator)


@pytest.mark.parametrize(
    ("traits", "allowed"),
    [({}, True), ({"scheduled": True}, False), ({"expired": True}, False), ({"revoked": True}, False)],
)
def test_main_account_only_while_active(frozen_today, django_assert_max_num_queries, traits, allowed):
    grant = GrantFactory(**traits)
    for user in (fresh(grant.organization.main_account), grant.organization.main_account):
        with django_assert_max_num_queries(1):
            assert can_view_creator_data(user, grant.creator) is allowed


def test_nobody_else(frozen_today, django_assert_max_num_queries):
    grant = GrantFactory()
    others = [
        SubAccountFactory(organization=grant.organization),
        ShopFactory().main_account,
        CreatorFactory().user,
        AnonymousUser(),
    ]
    for user in others:
        with django_assert_max_num_queries(1):
            assert not can_view_creator_data(user, grant.creator)
        if user.is_authenticated:
            assert not can_view_creator_data(fresh(user), grant.creator)


def test_access_on_the_last_day_until_midnight_shanghai(frozen_today):
    grant = GrantFactory(starts_on=d(-3), ends_on=d(0))
    main = grant.organization.main_account
    frozen_today.move_to(at_shanghai(TODAY, 23, 59, 59, 999999))
    assert can_view_creator_data(main, grant.creator)
    frozen_today.move_to(at_shanghai(d(1), 0, 0, 0))
    assert not can_view_creator_data(main, grant.creator)


def test_access_starts_at_midnight_on_the_first_day(frozen_today):
    grant = GrantFactory(starts_on=d(1), ends_on=d(5))
    main = grant.organization.main_account
    frozen_today.move_to(at_shanghai(TODAY, 23, 59, 59, 999999))
    assert not can_view_creator_data(main, grant.creator)
    frozen_today.move_to(at_shanghai(d(1), 0, 0, 0))
    assert can_view_creator_data(main, grant.creator)


def test_grant_for_other_creator_does_not_open_this_one(frozen_today):
    grant = GrantFactory()
    assert not can_view_creator_data(grant.organization.main_account, CreatorFactory())


def test_visible_grants_creator_and_main_account_only(frozen_today):
    grant = GrantFactory()
    other = GrantFactory()
    assert list(visible_grants(grant.creator.user)) == [grant]
    assert list(visible_grants(grant.organization.main_account)) == [grant]
    assert list(visible_grants(SubAccountFactory(organization=grant.organization))) == []
    assert grant not in visible_grants(other.creator.user)
    assert list(visible_grants(AnonymousUser())) == []
