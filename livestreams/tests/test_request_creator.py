"""A livestream that changes creator (issue 12, item 6: a re-import naming another creator, or staff
in the admin, both through ``livestreams.writes``) ends its pending and approved requests
(``grants.services.end_livestream_access``: status ``ended``, one ``end`` event each); every request
stays with the creator it was made to (``LivestreamAccessRequest.creator``), so the new creator never
sees approvals they did not give, and an approval of the former creator opens nothing of the new
creator's data. The organization may ask the new creator again."""

import pytest
from django.urls import reverse

from grants import services
from grants.models import LivestreamAccessEvent, LivestreamAccessRequest
from livestreams import writes
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    old, new, shop, other_shop = CreatorFactory(), CreatorFactory(), ShopFactory(), ShopFactory()
    staff = SubAccountFactory(organization=shop)
    moving = LivestreamFactory(creator=old, cooperating=[shop, other_shop], minutes=3)
    staying = LivestreamFactory(creator=old, cooperating=[shop], minutes=0)
    approved = services.request_livestream_access(livestream=moving, actor=staff)
    services.approve_livestream_request(request=approved, actor=old.user)
    pending = services.request_livestream_access(livestream=moving, actor=other_shop.main_account)
    elsewhere = services.request_livestream_access(livestream=staying, actor=shop.main_account)
    return {
        "old": old, "new": new, "shop": shop, "other_shop": other_shop, "staff": staff, "moving": moving,
        "approved": approved, "pending": pending, "elsewhere": elsewhere,
    }  # fmt: skip


def state(access_request):
    fresh = LivestreamAccessRequest.objects.get(pk=access_request.pk)
    return fresh.status, fresh.creator_id


def test_a_new_request_takes_the_livestreams_creator(world):
    assert state(world["pending"]) == ("pending", world["old"].pk)


def test_moving_ends_the_pending_and_approved_requests_with_one_event_each(world):
    mover = UserFactory(is_staff=True)
    events = LivestreamAccessEvent.objects.count()
    writes.move_livestream(livestream=world["moving"], creator=world["new"], actor=mover)
    assert state(world["approved"]) == ("ended", world["old"].pk)
    assert state(world["pending"]) == ("ended", world["old"].pk)
    assert state(world["elsewhere"]) == ("pending", world["old"].pk)  # another livestream: untouched
    assert LivestreamAccessEvent.objects.count() == events + 2
    for access_request in (world["approved"], world["pending"]):
        newest = access_request.events.order_by("-pk").first()
        assert (newest.operation, newest.actor) == ("end", mover)


def test_closed_requests_and_a_move_to_the_same_creator_write_nothing(world):
    services.decline_livestream_request(request=world["pending"], actor=world["old"].user)
    events = LivestreamAccessEvent.objects.count()
    writes.move_livestream(livestream=world["moving"], creator=world["old"])
    assert state(world["approved"]) == ("approved", world["old"].pk)
    assert LivestreamAccessEvent.objects.count() == events
    ended = services.end_livestream_access(livestream_ids=[world["moving"].pk], creator_id=world["new"].pk)
    assert [r.pk for r in ended] == [world["approved"].pk]  # the declined one stays declined
    assert state(world["pending"]) == ("declined", world["old"].pk)
    assert services.end_livestream_access(livestream_ids=[world["moving"].pk], creator_id=world["new"].pk) == []


def test_after_the_move_the_old_approval_opens_nothing(client, world):
    big_screen = reverse("livestreams:big_screen", args=[world["moving"].pk])
    client.force_login(world["staff"])
    assert client.get(big_screen).status_code == 200
    writes.move_livestream(livestream=world["moving"], creator=world["new"])
    assert client.get(big_screen).status_code == 403
    assert client.get(reverse("livestreams:audience", args=[world["moving"].pk])).status_code == 403


def test_the_new_creator_never_sees_approvals_they_did_not_give(client, world):
    writes.move_livestream(livestream=world["moving"], creator=world["new"])
    client.force_login(world["new"].user)
    for status in ("pending", "approved", "ended", "all"):
        html = client.get(reverse("grants:creator_requests"), {"status": status}).content.decode()
        for name in ("approved", "pending"):
            assert f'id="request-row-{world[name].pk}"' not in html, (status, name)
    # Nor can they decide one: it was not made to them.
    response = client.post(reverse("grants:revoke_request", args=[world["approved"].pk]))
    assert response.status_code == 404


def test_the_former_creator_sees_them_ended_and_decides_nothing(client, world):
    writes.move_livestream(livestream=world["moving"], creator=world["new"])
    client.force_login(world["old"].user)
    html = client.get(reverse("grants:creator_requests"), {"status": "ended"}).content.decode()
    assert f'id="request-row-{world["approved"].pk}"' in html
    assert "已失效" in html
    assert client.post(reverse("grants:revoke_request", args=[world["approved"].pk])).status_code == 404
    assert state(world["approved"]) == ("ended", world["old"].pk)


def test_the_organization_may_ask_the_new_creator_again(client, world):
    writes.move_livestream(livestream=world["moving"], creator=world["new"])
    client.force_login(world["staff"])
    response = client.post(reverse("livestreams:unlock", args=[world["moving"].pk]))
    assert response.status_code == 302
    again = LivestreamAccessRequest.objects.filter(livestream=world["moving"], organization=world["shop"]).get(
        status="pending"
    )
    assert again.creator_id == world["new"].pk
    client.force_login(world["new"].user)
    html = client.get(reverse("grants:creator_requests")).content.decode()
    assert f'id="request-row-{again.pk}"' in html
