"""Item 12 of issue 12, decided: a plain GET of ``/creators/<id>/`` puts a main account into that
creator's perspective — intended (README, "Perspective on a plain GET"). SPEC §4 has the
organization's list link an active row into the creator's perspective, and a link is a GET. What
makes it safe, and what these tests hold it to: the GET writes nothing but the session's choice; it
switches only to a creator whose ``creator_access`` opens something to the user now (anything else is
the same 404 as an unknown creator, and leaves the current perspective as it was); it shows exactly
what the POST switch shows; and sub-accounts without a delegation never switch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent, LivestreamAccessEvent, LivestreamAccessRequest
from grants.perspective import SESSION_KEY
from portal.factories import CreatorFactory, SubAccountFactory

pytestmark = pytest.mark.django_db


def rows():
    return [model.objects.count() for model in (Grant, GrantEvent, LivestreamAccessRequest, LivestreamAccessEvent)]


@pytest.fixture
def granted():
    first = GrantFactory()
    second = GrantFactory(organization=first.organization)  # a second creator granted the same shop
    return first.organization, first.creator, second.creator


def test_a_get_of_a_granted_creator_enters_the_perspective_and_writes_nothing(client, granted):
    shop, creator, _other = granted
    client.force_login(shop.main_account)
    before = rows()
    response = client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    assert response.status_code == 200
    assert client.session[SESSION_KEY] == creator.pk
    assert rows() == before
    assert creator.name in response.content.decode()  # the banner names whose data this is


def test_a_get_shows_what_the_post_switch_shows(client, granted):
    shop, creator, _other = granted
    client.force_login(shop.main_account)
    by_get = client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    client.post(reverse("grants:switch_perspective"), {"creator": ""})
    assert SESSION_KEY not in client.session
    client.post(reverse("grants:switch_perspective"), {"creator": creator.pk})
    by_post = client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    assert client.session[SESSION_KEY] == creator.pk
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.context["access"].parts == by_post.context["access"].parts


def test_a_get_of_a_creator_without_access_is_404_and_keeps_the_perspective(client, granted):
    shop, creator, other = granted
    stranger = CreatorFactory()
    client.force_login(shop.main_account)
    client.get(reverse("livestreams:creator_overview", args=[other.pk]))
    assert client.session[SESSION_KEY] == other.pk
    assert client.get(reverse("livestreams:creator_overview", args=[stranger.pk])).status_code == 404
    assert client.session[SESSION_KEY] == other.pk


def test_a_get_switches_from_one_granted_creator_to_another(client, granted):
    shop, creator, other = granted
    client.force_login(shop.main_account)
    client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    client.get(reverse("livestreams:creator_livestreams", args=[other.pk]))
    assert client.session[SESSION_KEY] == other.pk


def test_a_sub_account_never_switches_by_get(client, granted):
    shop, creator, _other = granted
    client.force_login(SubAccountFactory(organization=shop))
    assert client.get(reverse("livestreams:creator_overview", args=[creator.pk])).status_code == 404
    assert SESSION_KEY not in client.session


def test_once_the_grant_ends_the_next_get_falls_back(client, granted):
    shop, creator, _other = granted
    client.force_login(shop.main_account)
    client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    Grant.objects.filter(creator=creator, organization=shop).update(ends_on="2000-01-02", starts_on="2000-01-01")
    response = client.get(reverse("livestreams:creator_overview", args=[creator.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("grants:org_home")
    assert SESSION_KEY not in client.session
