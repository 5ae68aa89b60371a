"""A livestream request's copy of its livestream's creator (``LivestreamAccessRequest.creator``,
which the creator's request lists filter on) follows every write that moves the livestream to
another creator; a creator who no longer owns the livestream can neither see nor decide its requests.
(The importer's upsert is tested in test_import.py.)"""

import pytest
from django.urls import reverse

from grants import services
from grants.models import LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    old, new, shop = CreatorFactory(), CreatorFactory(), ShopFactory()
    streams = [LivestreamFactory(creator=old, cooperating=[shop], minutes=0) for _ in range(2)]
    requests = [services.request_livestream_access(livestream=s, actor=shop.main_account) for s in streams]
    return {"old": old, "new": new, "shop": shop, "streams": streams, "requests": requests}


def creators_of(requests):
    return [LivestreamAccessRequest.objects.get(pk=r.pk).creator_id for r in requests]


def test_a_new_request_takes_the_livestreams_creator_whatever_the_caller_says(world):
    stream = world["streams"][0]
    other = CreatorFactory()
    made = LivestreamAccessRequest.objects.create(
        livestream=stream, organization=ShopFactory(), requested_by=world["shop"].main_account, creator=other
    )
    assert made.creator_id == stream.creator_id
    assert creators_of(world["requests"]) == [world["old"].pk, world["old"].pk]


def test_save_moving_a_livestream_moves_its_requests(world):
    stream = world["streams"][0]
    stream.creator = world["new"]
    stream.save()
    assert creators_of(world["requests"]) == [world["new"].pk, world["old"].pk]


def test_save_with_update_fields_without_creator_moves_nothing(world):
    stream = Livestream.objects.get(pk=world["streams"][0].pk)
    stream.title = "改名"
    stream.save(update_fields=["title"])
    assert creators_of(world["requests"]) == [world["old"].pk, world["old"].pk]


def test_queryset_update_moves_the_requests(world):
    Livestream.objects.filter(pk=world["streams"][1].pk).update(creator=world["new"])
    assert creators_of(world["requests"]) == [world["old"].pk, world["new"].pk]


def test_bulk_update_moves_the_requests(world):
    streams = list(Livestream.objects.filter(pk__in=[s.pk for s in world["streams"]]).order_by("pk"))
    for stream in streams:
        stream.creator = world["new"]
    Livestream.objects.bulk_update(streams, ["creator"])
    assert creators_of(world["requests"]) == [world["new"].pk, world["new"].pk]


def test_sync_writes_only_the_requests_that_differ(world):
    assert services.sync_request_creators([s.pk for s in world["streams"]]) == 0
    LivestreamAccessRequest.objects.filter(pk=world["requests"][0].pk).update(creator=world["new"])  # made stale
    assert services.sync_request_creators([s.pk for s in world["streams"]]) == 1
    assert creators_of(world["requests"]) == [world["old"].pk, world["old"].pk]


def test_the_former_creator_neither_sees_nor_decides_a_moved_livestreams_requests(client, world):
    moved = world["requests"][0]
    stream = world["streams"][0]
    stream.creator = world["new"]
    stream.save()

    client.force_login(world["old"].user)
    html = client.get(reverse("grants:creator_requests")).content.decode()
    assert f'id="request-row-{moved.pk}"' not in html
    assert f'id="request-row-{world["requests"][1].pk}"' in html
    assert client.post(reverse("grants:approve_request", args=[moved.pk])).status_code == 404
    assert LivestreamAccessRequest.objects.get(pk=moved.pk).status == "pending"

    client.force_login(world["new"].user)
    html = client.get(reverse("grants:creator_requests")).content.decode()
    assert f'id="request-row-{moved.pk}"' in html
    assert client.post(reverse("grants:approve_request", args=[moved.pk])).status_code == 302
    assert LivestreamAccessRequest.objects.get(pk=moved.pk).status == "approved"
