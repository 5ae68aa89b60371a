import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portal.factories import (
    AgencyFactory,
    CreatorFactory,
    MainAccountFactory,
    ShopFactory,
    SubAccountFactory,
    UserFactory,
)
from portal.models import Membership, Organization

pytestmark = pytest.mark.django_db


def test_shop_factory_creates_organization_with_one_main_account():
    shop = ShopFactory()
    assert shop.kind == Organization.Kind.SHOP
    assert shop.main_account is not None
    assert shop.main_account.membership.role == Membership.Role.MAIN
    assert AgencyFactory().kind == Organization.Kind.AGENCY


def test_second_main_account_refused_by_database():
    shop = ShopFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=UserFactory(), organization=shop, role=Membership.Role.MAIN)
    assert shop.memberships.filter(role=Membership.Role.MAIN).count() == 1


def test_second_main_account_refused_by_validation_with_message():
    shop = ShopFactory()
    membership = Membership(user=UserFactory(), organization=shop, role=Membership.Role.MAIN)
    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert "one_main_account_per_organization" in str(excinfo.value) or excinfo.value.messages


def test_sub_accounts_are_unlimited():
    shop = ShopFactory()
    subs = [SubAccountFactory(organization=shop) for _ in range(3)]
    assert {u.membership.organization_id for u in subs} == {shop.pk}
    assert shop.memberships.filter(role=Membership.Role.SUB).count() == 3


def test_user_in_two_organizations_refused_by_database():
    user = SubAccountFactory(organization=ShopFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, organization=AgencyFactory(), role=Membership.Role.SUB)
    assert Membership.objects.filter(user=user).count() == 1


def test_member_cannot_also_be_creator():
    user = SubAccountFactory(organization=ShopFactory())
    creator = CreatorFactory.build(user=user)
    with pytest.raises(ValidationError) as excinfo:
        creator.full_clean()
    assert excinfo.value.error_dict["user"][0].code == "creator_is_member"


def test_creator_cannot_also_be_member():
    creator = CreatorFactory()
    membership = Membership(user=creator.user, organization=ShopFactory(), role=Membership.Role.SUB)
    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert excinfo.value.error_dict["user"][0].code == "member_is_creator"


def test_douyin_id_is_unique():
    CreatorFactory(douyin_id="dy_same")
    with pytest.raises(IntegrityError), transaction.atomic():
        CreatorFactory.build(douyin_id="dy_same", user=UserFactory()).save()


def test_main_account_factory_returns_user_of_new_organization():
    user = MainAccountFactory()
    assert user.membership.is_main
    assert user.membership.organization.main_account == user


def test_initials_avatar_for_chinese_and_latin_names():
    assert CreatorFactory(name="小雅美妆").initials == "小"
    shop = ShopFactory(name="acme beauty store")
    assert shop.initials == "AB"
    assert shop.avatar_colour.startswith("#")
