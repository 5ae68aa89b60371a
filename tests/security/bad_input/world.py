"""The world every bad-input test posts into: its parties, grants in every status, livestreams and requests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory
from grants.models import Grant, GrantRequest, LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from portal.factories import DEMO_PASSWORD, AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from portal.models import Creator, Organization


@dataclass
class World:
    alice: Creator  # the acting creator
    bob: Creator  # another creator
    carol: Creator  # a creator who granted nobody
    shop: Organization  # holds alice's active grant; main account + sub-account
    staff: object  # shop's sub-account
    grants: dict[str, Grant]  # alice's grants by status, plus "foreign" (bob's)
    free_orgs: list[Organization]  # never granted by alice
    streams: dict[str, Livestream]
    requests: dict[str, LivestreamAccessRequest]
    # Full-data and extension requests: "pending" (free_orgs[0] → alice), "expired" (free_orgs[1]
    # → alice, made 8 days ago), "declined" (an agency → alice, today), "extension" (of the
    # scheduled grant, pending), "foreign" (free_orgs[0] → bob).
    grant_requests: dict[str, GrantRequest]

    @property
    def main(self):
        return self.shop.main_account


def build_world() -> World:
    alice = CreatorFactory(name="甲达人", user=UserFactory(username="alice", password=DEMO_PASSWORD))
    bob, carol = CreatorFactory(name="乙达人"), CreatorFactory(name="丙达人")
    shop = ShopFactory(name="一号店")
    staff = SubAccountFactory(organization=shop)
    scheduled_org, expired_org, revoked_org = ShopFactory(), ShopFactory(), AgencyFactory()
    free_orgs = [ShopFactory(name="未授权店"), AgencyFactory(name="未授权机构")]
    grants = {
        "active": GrantFactory(creator=alice, organization=shop),
        "scheduled": GrantFactory(creator=alice, organization=scheduled_org, scheduled=True),
        "expired": GrantFactory(creator=alice, organization=expired_org, expired=True),
        "revoked": GrantFactory(creator=alice, organization=revoked_org, revoked=True),
        "foreign": GrantFactory(creator=bob, organization=shop),  # another creator's grant
    }
    other_shop = ShopFactory()
    streams = {
        "free": LivestreamFactory(creator=alice, cooperating=[shop, other_shop], minutes=3),
        "pending": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "approved": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "declined": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "not_cooperated": LivestreamFactory(creator=alice, cooperating=[other_shop], minutes=3),
        "foreign": LivestreamFactory(creator=bob, cooperating=[shop], minutes=3),
    }
    requests = {}
    for name in ("pending", "approved", "declined", "foreign"):
        requests[name] = services.request_livestream_access(livestream=streams[name], actor=staff)
    services.approve_livestream_request(request=requests["approved"], actor=alice.user)
    services.decline_livestream_request(request=requests["declined"], actor=alice.user)
    for access_request in requests.values():
        access_request.refresh_from_db()
    today = grants["active"].starts_on + datetime.timedelta(days=10)  # the factories' "today"
    declining = AgencyFactory(name="被拒机构")
    grant_requests = {
        "pending": services.request_grant(
            creator=alice, starts_on=today, ends_on=today + datetime.timedelta(days=30),
            actor=free_orgs[0].main_account, message="想看数据",
        ),
        "expired": GrantRequestFactory(creator=alice, organization=free_orgs[1], expired=True),
        "declined": services.decline_grant_request(
            request=services.request_grant(
                creator=alice, starts_on=today, ends_on=today, actor=declining.main_account
            ),
            actor=alice.user, reason="暂不合作",
        ),
        "extension": services.request_extension(
            grant=grants["scheduled"], ends_on=grants["scheduled"].ends_on + datetime.timedelta(days=30),
            actor=scheduled_org.main_account,
        ),
        "foreign": services.request_grant(
            creator=bob, starts_on=today, ends_on=today, actor=free_orgs[0].main_account
        ),
    }  # fmt: skip
    for grant_request in grant_requests.values():
        grant_request.refresh_from_db()
    return World(alice, bob, carol, shop, staff, grants, free_orgs, streams, requests, grant_requests)
