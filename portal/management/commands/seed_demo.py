"""Create the demo world: the well-known demo accounts and a few dozen more parties.

This is the one place that composes every app's factories. Each step is keyed by a natural key
(username, douyin_id, organization code, ...), so running the command twice adds nothing.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

import factory.random

from portal.factories import DEMO_PASSWORD, AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from portal.models import Creator, Membership, Organization, User

SEED = 20261128
EXTRA_CREATORS = 30
EXTRA_SHOPS = 30
EXTRA_AGENCIES = 12

DEMO_ACCOUNTS = [
    ("creator", "达人：拥有各种状态的授权、直播和申请"),
    ("creator2", "第二位达人"),
    ("shop", "商家主账号：持有 creator 的有效全部数据授权"),
    ("shop-staff", "上面商家的子账号"),
    ("agency", "机构主账号"),
    ("admin", "平台运营（管理后台）"),
]


class Command(BaseCommand):
    help = "Create the demo world (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        factory.random.reseed_random(SEED)
        with transaction.atomic():
            world = seed_parties()
            self.extend(world)
        self.stdout.write(self.style.SUCCESS("Demo world ready. Demo logins (password: %s):" % DEMO_PASSWORD))
        for username, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<12} {role}")
        self.stdout.write(
            f"  ({Creator.objects.count()} creators, {Organization.objects.count()} organizations, "
            f"{User.objects.count()} users)"
        )

    def extend(self, world: dict) -> None:
        """Later sections of the demo world (grants, livestreams) hook in here."""


def _demo_user(username: str) -> dict:
    return {"username": username, "password": DEMO_PASSWORD}


def seed_parties() -> dict:
    creator = _creator("dy_creator", name="小雅美妆", username="creator")
    creator2 = _creator("dy_creator2", name="阿峰好物", username="creator2")
    shop = _organization(ShopFactory, code="shop-demo", name="花漾美妆旗舰店", main_username="shop")
    if not Membership.objects.filter(user__username="shop-staff").exists():
        SubAccountFactory(organization=shop, **_demo_user("shop-staff"))
    agency = _organization(AgencyFactory, code="agency-demo", name="星途文化传媒", main_username="agency")
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)

    creators = [_creator(f"dy_{20000 + i}") for i in range(EXTRA_CREATORS)]
    shops = [_organization(ShopFactory, code=f"shop-{i:04d}") for i in range(EXTRA_SHOPS)]
    agencies = [_organization(AgencyFactory, code=f"agency-{i:04d}") for i in range(EXTRA_AGENCIES)]
    return {
        "creator": creator,
        "creator2": creator2,
        "shop": shop,
        "agency": agency,
        "creators": creators,
        "shops": shops,
        "agencies": agencies,
    }


def _creator(douyin_id: str, *, name: str | None = None, username: str | None = None) -> Creator:
    existing = Creator.objects.select_related("user").filter(douyin_id=douyin_id).first()
    if existing is not None:
        return existing
    kwargs = {"douyin_id": douyin_id, "user": UserFactory(**_demo_user(username)) if username else UserFactory()}
    if name:
        kwargs["name"] = name
    return CreatorFactory(**kwargs)


def _organization(factory_class, *, code: str, name: str | None = None, main_username: str | None = None):
    existing = Organization.objects.filter(code=code).first()
    if existing is not None:
        return existing
    kwargs = {"code": code}
    if name:
        kwargs["name"] = name
    if main_username:
        kwargs["main__user__username"] = main_username
        kwargs["main__user__password"] = DEMO_PASSWORD
    return factory_class(**kwargs)
