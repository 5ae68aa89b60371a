"""One door: every data page decides through ``grants.access.creator_access`` / ``livestream_access``
and nothing else.

Replace both with a deny-all answer and every data page of an authorized main account is refused;
replace them with an allow-all answer and a main account without any grant gets every page. If a
page decided anything by itself (a status string, a membership, its own query), one of the two
halves would fail.
"""

import pytest
from django.urls import reverse

from grants import access
from grants.factories import GrantFactory
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory
from portal.models import Creator

pytestmark = pytest.mark.django_db

CREATOR_PAGES = ("livestreams:creator_overview", "livestreams:creator_livestreams", "livestreams:creator_export")
LIVESTREAM_PAGES = ("livestreams:detail", "livestreams:big_screen", "livestreams:traffic", "livestreams:audience")


@pytest.fixture
def world():
    creator = CreatorFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[], minutes=5)
    authorized = GrantFactory(creator=creator).organization.main_account
    stranger = ShopFactory().main_account
    return {"creator": creator, "stream": stream, "authorized": authorized, "stranger": stranger}


def urls(world) -> list[str]:
    return [reverse(name, args=[world["creator"].pk]) for name in CREATOR_PAGES] + [
        reverse(name, args=[world["stream"].pk]) for name in LIVESTREAM_PAGES
    ]


def deny_all(user, creator):
    return access.CreatorAccess(creator=None)


def deny_all_livestreams(user, livestream, page=None):
    return access.LivestreamAccess()


def allow_all(user, creator):
    creator = creator if isinstance(creator, Creator) else Creator.objects.get(pk=creator)
    return access.CreatorAccess(creator=creator, parts=access.ALL_PARTS)


def allow_all_livestreams(user, livestream, page=None):
    return access.LivestreamAccess(detail=True, modules=True)


def test_the_pages_are_open_to_the_authorized_and_closed_to_the_stranger(client, world):
    """The baseline the two replacements below turn around."""
    client.force_login(world["authorized"])
    assert [client.get(url).status_code for url in urls(world)] == [200] * 7
    client.force_login(world["stranger"])
    assert all(client.get(url).status_code in (403, 404) for url in urls(world))


def test_deny_all_answers_refuse_every_data_page_of_an_authorized_main_account(client, world, monkeypatch):
    monkeypatch.setattr(access, "creator_access", deny_all)
    monkeypatch.setattr(access, "livestream_access", deny_all_livestreams)
    client.force_login(world["authorized"])
    for url in urls(world):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert world["creator"].name not in response.content.decode(errors="replace"), url


def test_allow_all_answers_open_every_data_page_to_a_main_account_without_a_grant(client, world, monkeypatch):
    monkeypatch.setattr(access, "creator_access", allow_all)
    monkeypatch.setattr(access, "livestream_access", allow_all_livestreams)
    client.force_login(world["stranger"])
    for url in urls(world):
        assert client.get(url).status_code == 200, url
