"""portal.compiled.CompiledQuery.objects(): the ORM's instances (select_related included) from SQL
compiled once, and the user loader built on it."""

import pytest
from django.contrib.auth import get_user_model

from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from portal.backends import PortalBackend
from portal.compiled import CompiledQuery
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

User = get_user_model()

USERS = CompiledQuery(
    User, lambda user: User.objects.select_related("creator", "membership__organization").filter(pk=user), user="id"
)


def field_values(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.mark.parametrize("kind", ["creator", "main", "sub", "staff"])
def test_objects_equal_the_orms_with_the_related_objects_cached(kind, django_assert_num_queries):
    if kind == "creator":
        user = CreatorFactory().user
    elif kind == "main":
        user = ShopFactory().main_account
    elif kind == "sub":
        user = SubAccountFactory()
    else:
        user = User.objects.create_user("ops", password="x", is_staff=True)
    expected = User.objects.select_related("creator", "membership__organization").get(pk=user.pk)

    with django_assert_num_queries(1):
        (found,) = USERS.objects(user=user.pk)
        party = (found.creator_or_none, found.membership_or_none)
        organization = found.membership.organization if party[1] is not None else None

    assert field_values(found) == field_values(expected)
    assert found._state.adding is False
    assert found._state.db == "default"
    assert (party[0] and field_values(party[0])) == (expected.creator_or_none and field_values(expected.creator))
    assert (party[1] and field_values(party[1])) == (expected.membership_or_none and field_values(expected.membership))
    assert (organization and field_values(organization)) == (
        expected.membership_or_none and field_values(expected.membership.organization)
    )
    assert (party[0] is not None) == (kind == "creator")
    assert (party[1] is not None) == (kind in ("main", "sub"))


def test_objects_of_an_absent_row_is_empty():
    assert USERS.objects(user=999_999_999) == []


def test_values_convert_as_the_orms_do():
    # Datetimes (aware), decimals and dates come back as the ORM gives them, on SQLite and PostgreSQL.
    stream = LivestreamFactory(minutes=0)
    query = CompiledQuery(
        Livestream,
        lambda livestream: Livestream.objects.select_related("creator").filter(pk=livestream),
        livestream="id",
    )
    (found,) = query.objects(livestream=stream.pk)
    expected = Livestream.objects.select_related("creator").get(pk=stream.pk)
    assert field_values(found) == field_values(expected)
    assert found.started_at.tzinfo is not None
    assert type(found.gmv) is type(expected.gmv)
    assert field_values(found.creator) == field_values(expected.creator)
    assert found.creator.pk == found.creator_id


def test_the_backend_loads_the_party_in_one_query_and_refuses_inactive_users(django_assert_num_queries):
    user = ShopFactory().main_account
    with django_assert_num_queries(1):
        loaded = PortalBackend().get_user(user.pk)
        assert loaded.membership.organization.name == user.membership.organization.name
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert PortalBackend().get_user(user.pk) is None
    assert PortalBackend().get_user(999_999_999) is None


def test_count_counts_the_rows_of_a_query_or_of_its_slice(django_assert_num_queries):
    from portal.models import Organization

    shops = [ShopFactory() for _ in range(5)]
    floor = shops[0].pk - 1
    sliced = CompiledQuery(
        Organization, lambda floor: Organization.objects.filter(pk__gt=floor).values_list("pk")[:3], floor="id"
    )
    whole = CompiledQuery(
        Organization, lambda floor: Organization.objects.filter(pk__gt=floor).values_list("pk"), floor="id"
    )
    with django_assert_num_queries(1):
        assert sliced.count(floor=floor) == 3
    assert whole.count(floor=floor) == 5
    assert whole.count(floor=shops[3].pk) == Organization.objects.filter(pk__gt=shops[3].pk).count() == 1
