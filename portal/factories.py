"""Factories for the parties (factory-boy), used by the tests and by ``seed_demo``.

- ``CreatorFactory()`` -> Creator, with its ``.user``
- ``ShopFactory()`` / ``AgencyFactory()`` -> Organization, created with its main account
- ``SubAccountFactory(organization=org)`` -> User, a sub-account of ``org``
- ``MainAccountFactory`` / ``UserFactory`` for the rarer cases
"""

import factory
from django.db.models import Max
from factory.django import DjangoModelFactory
from faker import Faker

from .models import Creator, Membership, Organization, User

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - the documented demo password

# One zh_CN generator; it shares the random state that factory.random.reseed_random() seeds.
_fake = Faker("zh_CN")

CREATOR_STYLES = ("美妆", "穿搭", "美食", "家居", "母婴", "数码", "户外", "零食", "护肤", "好物")


class FreshSequence:
    """Sequences continue after the table's largest primary key, so generated usernames, Douyin
    ids and codes never collide with rows an earlier process created (``seed_demo`` then the load
    test's fixtures, say) — a collision would silently reuse that row through get-or-create."""

    @classmethod
    def _setup_next_sequence(cls):
        model = cls._meta.model
        return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


class UserFactory(FreshSequence, DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n:05d}")
    # Most users never log in; the demo accounts pass ``password=DEMO_PASSWORD``.
    password = factory.django.Password(None)


class CreatorFactory(FreshSequence, DjangoModelFactory):
    class Meta:
        model = Creator
        django_get_or_create = ("douyin_id",)
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    name = factory.LazyAttributeSequence(
        lambda o, n: f"{_fake.last_name()}{'小大阿'[n % 3]}{CREATOR_STYLES[n % len(CREATOR_STYLES)]}"
    )
    douyin_id = factory.Sequence(lambda n: f"dy_{10000 + n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory("portal.factories.ShopFactory")
    role = Membership.Role.SUB


class OrganizationFactory(FreshSequence, DjangoModelFactory):
    """An organization with its main account (``main__user__username=...`` names it)."""

    class Meta:
        model = Organization
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    kind = Organization.Kind.SHOP
    name = factory.Faker("company", locale="zh_CN")
    code = factory.Sequence(lambda n: f"org-{n:05d}")
    main = factory.RelatedFactory(MembershipFactory, factory_related_name="organization", role=Membership.Role.MAIN)


class ShopFactory(OrganizationFactory):
    kind = Organization.Kind.SHOP
    name = factory.Sequence(lambda n: f"{_fake.company_prefix()}{('旗舰店', '官方店', '专营店', '优选店')[n % 4]}")
    code = factory.Sequence(lambda n: f"shop-{n:05d}")


class AgencyFactory(OrganizationFactory):
    kind = Organization.Kind.AGENCY
    name = factory.Sequence(lambda n: f"{_fake.company_prefix()}{('文化传媒', 'MCN', '网络科技', '传媒机构')[n % 4]}")
    code = factory.Sequence(lambda n: f"agency-{n:05d}")


class SubAccountFactory(UserFactory):
    """A sub-account (子账号) of ``organization``; returns the User."""

    class Meta:
        exclude = ("organization",)
        skip_postgeneration_save = True

    organization = factory.SubFactory(ShopFactory)
    membership = factory.RelatedFactory(
        MembershipFactory,
        factory_related_name="user",
        organization=factory.SelfAttribute("..organization"),
        role=Membership.Role.SUB,
    )


class MainAccountFactory(UserFactory):
    """The main account of a new organization (``kind`` via ``organization__kind``); returns the User."""

    class Meta:
        exclude = ("organization",)
        skip_postgeneration_save = True

    organization = factory.SubFactory(ShopFactory, main=None)
    membership = factory.RelatedFactory(
        MembershipFactory,
        factory_related_name="user",
        organization=factory.SelfAttribute("..organization"),
        role=Membership.Role.MAIN,
    )
