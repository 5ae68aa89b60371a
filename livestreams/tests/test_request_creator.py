"""A livestream request's copy of its livestream's creator (``LivestreamAccessRequest.creator``,
which the creator's request lists filter on: docs/performance.md, item 19) is set by the service
that makes the request and follows the livestream when a writer moves it to another creator
(``writes.move_livestream``; the importer's upsert is tested in test_import.py); a creator who no
longer owns the livestream can neither see nor decide its requests."""

import pytest
from django.urls import reverse

from grants import services
from grants.models import LivestreamAccessRequest
from livestreams import writes
from livestreams.factories import LivestreamFactory
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


def test_a_new_request_takes_the_livestreams_creator(world):
    assert creators_of(world["requests"]) == [world["old"].pk, world["old"].pk]


def test_moving_a_livestream_moves_its_requests_only(world):
    writes.move_livestream(livestream=world["streams"][0], creator=world["new"])
    assert creators_of(world["requests"]) == [world["new"].pk, world["old"].pk]


def test_sync_writes_only_the_requests_that_differ(world):
    ids = [s.pk for s in world["streams"]]
    assert services.sync_request_creators(livestream_ids=ids, creator_id=world["old"].pk) == 0
    assert services.sync_request_creators(livestream_ids=ids[:1], creator_id=world["new"].pk) == 1
    assert services.sync_request_creators(livestream_ids=ids, creator_id=world["new"].pk) == 1
    assert creators_of(world["requests"]) == [world["new"].pk, world["new"].pk]


def test_the_former_creator_neither_sees_nor_decides_a_moved_livestreams_requests(client, world):
    moved = world["requests"][0]
    writes.move_livestream(livestream=world["streams"][0], creator=world["new"])

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
