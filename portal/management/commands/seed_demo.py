"""Create the demo world: the well-known demo accounts and a few dozen more parties.

This is the one place that composes every app's factories. Each step is keyed by a natural key
(username, douyin_id, organization code, ...), so running the command twice adds nothing.
"""

import datetime

import factory.random
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory, LivestreamAccessRequestFactory
from grants.models import Delegation, Grant, GrantRequest, LivestreamAccessRequest, scope_of
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from notifications import services as inbox
from notifications.models import Message
from portal.factories import DEMO_PASSWORD, AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from portal.models import Creator, Membership, Organization, User

SEED = 20261128
EXTRA_CREATORS = 30
EXTRA_SHOPS = 30
EXTRA_AGENCIES = 12

DEMO_ACCOUNTS = [
    ("creator", "达人：拥有各种状态的授权、直播和申请"),
    ("creator2", "第二位达人"),
    ("shop", "商家主账号：持有 creator 的有效全部数据授权，creator2 的授权仅限数据概览"),
    ("shop-staff", "上面商家的子账号：被授权查看 creator 的数据概览和直播列表（30 天）"),
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
        self.stdout.write(self.style.SUCCESS(f"Demo world ready. Demo logins (password: {DEMO_PASSWORD}):"))
        for username, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<12} {role}")
        self.stdout.write(
            f"  ({Creator.objects.count()} creators, {Organization.objects.count()} organizations, "
            f"{User.objects.count()} users)"
        )

    def extend(self, world: dict) -> None:
        seed_grants(world)
        seed_livestreams(world)
        seed_requests(world)
        seed_grant_requests(world)
        seed_delegations(world)


def seed_delegations(world: dict) -> None:
    """SPEC §12: ``shop`` delegates ``creator``'s grant to ``shop-staff`` for 30 days, 数据概览 + 直播列表
    (the service writes it, its history and the message, as in real use)."""
    grant = Grant.objects.for_creator(world["creator"]).for_organization(world["shop"]).not_revoked().first()
    if grant is None or Delegation.objects.for_grant(grant).exists():
        return
    services.delegate(
        grant=grant, sub_account=User.objects.get(username="shop-staff"),
        ends_on=timezone.localdate() + datetime.timedelta(days=30), actor=world["shop"].main_account,
        scope=["overview", "livestreams"],
    )  # fmt: skip


def seed_grants(world: dict) -> None:
    """``creator`` has grants in every status (``shop`` active, ``agency`` expired) and enough to
    page through; other creators have granted ``shop`` in every status too."""
    creator, shop, agency = world["creator"], world["shop"], world["agency"]
    if Grant.objects.for_creator(creator).exists():
        return
    day = timezone.localdate()

    def on(offset: int) -> datetime.date:
        return day + datetime.timedelta(days=offset)

    GrantFactory(creator=creator, organization=shop, starts_on=on(-45), ends_on=on(75))
    GrantFactory(creator=creator, organization=agency, starts_on=on(-120), ends_on=on(-8))
    # Shops and agencies alternate, so both kinds show on the first page.
    others = [org for pair in zip(world["shops"], world["agencies"] * 3, strict=False) for org in pair]
    # (start, end, revoked) relative to today: every status, "今天到期", and a revoked-then-regranted pair.
    plan = [
        (-30, 0, False), (-10, 3, False), (-60, 20, False), (-5, 180, False), (2, 30, False), (10, 100, False),
        (-90, -1, False), (-200, -100, False), (-40, 50, True), (5, 60, True), (-15, 15, False), (-3, 400, False),
        (1, 1, False), (-365, -30, False), (-20, 10, True), (-7, 7, False), (-100, -60, False), (-2, 90, False),
        (3, 33, False), (-50, -20, False), (-1, 45, False), (-80, 10, True), (-25, 60, False), (-9, 2, False),
    ]  # fmt: skip
    for organization, (start, end, revoked) in zip(others, plan, strict=False):
        GrantFactory(creator=creator, organization=organization, starts_on=on(start), ends_on=on(end), revoked=revoked)
    old = GrantFactory(
        creator=creator, organization=others[len(plan)], starts_on=on(-90), ends_on=on(-30), revoked=True
    )
    GrantFactory(creator=old.creator, organization=old.organization, starts_on=on(-10), ends_on=on(50))
    # Other creators granting ``shop``: its personal center has creators in every status.
    statuses = [(-20, 40, False), (5, 35, False), (-60, -5, False), (-30, 30, True), (-3, 0, False)]
    # SPEC §12: creator2's grant to ``shop`` covers 数据概览 only.
    GrantFactory(
        creator=world["creator2"], organization=shop, starts_on=on(-12), ends_on=on(18), scope=scope_of(["overview"])
    )
    for other, (start, end, revoked) in zip(world["creators"], statuses * 3, strict=False):
        GrantFactory(creator=other, organization=shop, starts_on=on(start), ends_on=on(end), revoked=revoked)


LIVESTREAM_DAYS = 90
CREATOR_LIVESTREAMS = 60


def seed_livestreams(world: dict) -> None:
    """``creator``: ~60 livestreams over the last 90 days with one live now; ``shop`` cooperated in
    most, ``agency`` in some. ``creator2`` and a few other creators have some too."""
    rng = factory.random.randgen
    creator, shop, agency = world["creator"], world["shop"], world["agency"]
    others = world["shops"][:12]
    now = timezone.now()
    today = timezone.localdate(now)
    for i in range(CREATOR_LIVESTREAMS):
        day = today - datetime.timedelta(days=round((i + 0.5) * LIVESTREAM_DAYS / CREATOR_LIVESTREAMS))
        started = timezone.make_aware(datetime.datetime.combine(day, datetime.time(19 + i % 3, (i % 4) * 15)))
        cooperating = [shop] if i % 5 else []
        if i % 3 == 0:
            cooperating.append(agency)
        cooperating += rng.sample(others, k=1 + i % 3)
        LivestreamFactory(
            external_id=f"demo-creator-{i:03d}", creator=creator, cooperating=cooperating, started_at=started,
            duration=90 + (i * 37) % 150,
        )  # fmt: skip
    LivestreamFactory(
        external_id="demo-creator-live", creator=creator, cooperating=[shop, agency, others[0]], live=True
    )
    for i in range(15):
        day = today - datetime.timedelta(days=3 + i * 6)
        LivestreamFactory(
            external_id=f"demo-creator2-{i:03d}", creator=world["creator2"],
            cooperating=[shop] if i % 2 else [world["shops"][i % 30]],
            started_at=timezone.make_aware(datetime.datetime.combine(day, datetime.time(20))), duration=120,
        )  # fmt: skip
    for n, other in enumerate(world["creators"][:10]):
        for i in range(3):
            day = today - datetime.timedelta(days=2 + i * 11 + n)
            LivestreamFactory(
                external_id=f"demo-{other.douyin_id}-{i}", creator=other,
                cooperating=[shop] if (n + i) % 2 else [world["shops"][(n + i) % 30]],
                started_at=timezone.make_aware(datetime.datetime.combine(day, datetime.time(20))), duration=60,
            )  # fmt: skip


def seed_requests(world: dict) -> None:
    """Requests from ``shop`` and ``agency`` in every status, through the services (with history)."""
    creator, shop, agency = world["creator"], world["shop"], world["agency"]
    if LivestreamAccessRequest.objects.for_creator(creator).exists():
        return
    staff = User.objects.get(username="shop-staff")
    shop_streams = list(Livestream.objects.for_creator(creator).cooperated_by(shop).newest_first()[:8])
    agency_streams = list(Livestream.objects.for_creator(creator).cooperated_by(agency).newest_first()[:4])
    creator_user = creator.user
    plan = [
        (shop_streams[0], staff, None), (shop_streams[1], shop.main_account, None), (shop_streams[2], staff, None),
        (shop_streams[3], staff, "approve"), (shop_streams[4], shop.main_account, "approve"),
        (shop_streams[5], staff, "decline"), (shop_streams[6], staff, "revoke"),
        (agency_streams[0], agency.main_account, None), (agency_streams[1], agency.main_account, "approve"),
        (agency_streams[2], agency.main_account, "decline"),
    ]  # fmt: skip
    for livestream, actor, outcome in plan:
        access_request = services.request_livestream_access(livestream=livestream, actor=actor)
        if outcome == "approve":
            services.approve_livestream_request(request=access_request, actor=creator_user)
        elif outcome == "decline":
            services.decline_livestream_request(request=access_request, actor=creator_user)
        elif outcome == "revoke":
            services.approve_livestream_request(request=access_request, actor=creator_user)
            services.revoke_livestream_access(request=access_request, actor=creator_user)


def seed_grant_requests(world: dict) -> None:
    """Full-data and extension requests to ``creator`` in every state (pending, declined with a
    reason, expired), an expired livestream request, and so unread messages for ``creator``,
    ``shop`` and ``shop-staff`` (the services write them, as in real use)."""
    creator, shop, agency = world["creator"], world["shop"], world["agency"]
    if GrantRequest.objects.for_creator(creator).exists():
        return
    day = timezone.localdate()

    def on(offset: int) -> datetime.date:
        return day + datetime.timedelta(days=offset)

    # Shops that ``creator`` never granted (seed_grants used the first 13).
    asking = world["shops"][13:18]
    messages = [
        "您好，我们是长期合作的美妆店铺，希望查看近期带货数据以便备货。",
        "想了解您直播间的转化情况，方便安排下季度合作。",
        "",
    ]
    for organization, text, (start, end) in zip(asking[:3], messages, [(0, 89), (1, 180), (3, 33)], strict=True):
        services.request_grant(
            creator=creator, starts_on=on(start), ends_on=on(end), actor=organization.main_account, message=text
        )
    shop_grant = Grant.objects.for_creator(creator).for_organization(shop).not_revoked().get()
    services.request_extension(
        grant=shop_grant, ends_on=shop_grant.ends_on + datetime.timedelta(days=90), actor=shop.main_account,
        message="合作效果很好，希望续约三个月。",
    )  # fmt: skip
    agency_grant = Grant.objects.for_creator(creator).for_organization(agency).not_revoked().get()
    services.request_extension(grant=agency_grant, starts_on=on(1), ends_on=on(120), actor=agency.main_account)
    declined = services.request_grant(creator=creator, starts_on=on(0), ends_on=on(30), actor=asking[3].main_account)
    services.decline_grant_request(
        request=declined, actor=creator.user, reason="目前暂不对新店铺开放全部数据，可先申请单场直播数据。"
    )
    GrantRequestFactory(creator=creator, organization=asking[4], expired=True, message="希望查看全部带货数据。")
    # A full-data request of ``shop`` to a creator who revoked its grant, declined with a reason:
    # the shop's inbox and its request list show both.
    granted = Grant.objects.for_organization(shop).not_revoked().values("creator_id")
    other = Creator.objects.filter(pk__in=[c.pk for c in world["creators"]]).exclude(pk__in=granted).first()
    if other is not None:
        refused = services.request_grant(creator=other, starts_on=on(0), ends_on=on(60), actor=shop.main_account)
        services.decline_grant_request(request=refused, actor=other.user, reason="近期档期已满，下月再联系。")
    # An expired livestream request: ``agency`` asked 8 days ago and nobody answered.
    stream = (
        Livestream.objects.for_creator(creator).cooperated_by(agency).newest_first()
        .exclude(access_requests__organization=agency).first()
    )  # fmt: skip
    if stream is not None:
        LivestreamAccessRequestFactory(livestream=stream, organization=agency, expired=True)
    # The creator has read the oldest of their messages; the rest stay unread.
    for message in Message.objects.for_recipient(creator.user).order_by("created_at", "pk")[:3]:
        inbox.mark_read(message=message, actor=creator.user)


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
