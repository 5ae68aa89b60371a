"""Malformed, garbage and huge ids in every URL that takes one: 404 (or 403/405), never a 500."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from django.urls import Resolver404, resolve, reverse
from hypothesis import assume, given
from hypothesis import strategies as st

from portal.factories import CreatorFactory
from tests.urlmap import all_routes

from .generators import HUGE_INTS
from .helpers import counts, delta, fuzz, path_with_id, post, rolled_back, text_of
from .world import World

pytestmark = pytest.mark.django_db

# The preview's routes take a signed token besides the creator's id: fuzzed below on their own.
PREVIEW_ROUTES = [route for route in all_routes() if "preview" in route.params]
ID_ROUTES = [route for route in all_routes() if route.params and route not in PREVIEW_ROUTES]
ROLES = ("alice", "main", "staff")
# Pages of an organization's main account (the others with an id are a creator's, or anyone's).
MAIN_ACCOUNT_ROUTES = {"grants:request_extension", "grants:delegate", "grants:end_delegation"}


def _user(world: World, role: str):
    return {"alice": world.alice.user, "main": world.main, "staff": world.staff}[role]


def test_every_route_with_an_id_is_fuzzed():
    assert {route.name for route in ID_ROUTES} >= {
        "grants:grant_detail",
        "grants:revoke",
        "grants:renew_early",
        "grants:renew",
        "grants:approve_request",
        "grants:decline_request",
        "grants:revoke_request",
        "grants:grant_request_detail",
        "grants:approve_grant_request",
        "grants:decline_grant_request",
        "grants:request_extension",
        "notifications:open",
        "livestreams:creator_overview",
        "livestreams:creator_livestreams",
        "livestreams:creator_export",
        "livestreams:detail",
        "livestreams:unlock",
        "livestreams:big_screen",
        "livestreams:traffic",
        "livestreams:audience",
    }
    assert all(len(route.params) == 1 for route in ID_ROUTES)


def _path(route, segment: str) -> str:
    return "/" + re.sub(r"<[^>]+>", segment, route.pattern)


def test_malformed_ids_are_404_from_the_resolver(client, db):
    client.force_login(CreatorFactory().user)
    for path in [
        "/grants/abc/revoke/",
        "/grants/-1/",
        "/grants/1.5/",
        "/grants/１/",
        "/livestreams/0x1/",
        "/creators/%20/",
    ]:
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code == 404, path


@fuzz(35)
@given(
    route=st.sampled_from(ID_ROUTES),
    segment=st.text(min_size=1, max_size=30).filter(lambda s: not s.isascii() or not s.isdigit()),
    role=st.sampled_from(ROLES),
    method=st.sampled_from(["get", "post"]),
)
def test_garbage_ids_in_urls_are_404(client, world, route, segment, role, method):
    path = _path(route, quote(segment, safe=""))
    try:
        resolve(unquote(path))
    except Resolver404:
        pass
    else:
        assume(False)  # e.g. "new" in /grants/<id>/: a real page, not a malformed id
    client.force_login(_user(world, role))
    with rolled_back():
        before = counts()
        assert getattr(client, method)(path).status_code == 404
        assert delta(before, counts()) == {}


@fuzz(50)
@given(
    route=st.sampled_from(ID_ROUTES),
    number=HUGE_INTS,
    role=st.sampled_from(ROLES),
    method=st.sampled_from(["get", "post"]),
)
def test_huge_ids_in_urls_are_404_not_500(client, world, route, number, role, method):
    client.force_login(_user(world, role))
    path = _path(route, str(number))
    with rolled_back():
        before = counts()
        response = getattr(client, method)(path)
        text_of(response)
        assert delta(before, counts()) == {}
    # 404 for the object; a role that may never use the page is refused first (403), and a
    # method the page does not take is 405 before any lookup.
    assert response.status_code in (403, 404, 405), (path, response.status_code)
    user_of_the_page = "main" if route.name in MAIN_ACCOUNT_ROUTES else "alice"
    if role == user_of_the_page and response.status_code != 405:
        assert response.status_code == 404, path


@fuzz(30)
@given(
    route=st.sampled_from(PREVIEW_ROUTES),
    token=st.text(min_size=1, max_size=80),
    role=st.sampled_from(ROLES),
)
def test_garbage_preview_tokens_are_404(client, world, route, token, role):
    """Anything but a token the creator's own signature made is 404, for the creator too."""
    client.force_login(_user(world, role))
    path = reverse(route.name, kwargs={"creator_id": world.alice.pk, "preview": "TOKEN"}).replace(
        "TOKEN", quote(token, safe="")
    )
    with rolled_back():
        before = counts()
        response = client.get(path)
        assert response.status_code == 404, path
        assert delta(before, counts()) == {}


def test_the_issue_example_huge_grant_id_is_404(client, world):
    client.force_login(world.alice.user)
    assert client.get("/grants/99999999999999999999/").status_code == 404
    assert client.post("/grants/99999999999999999999/revoke/").status_code == 404
    assert client.get(f"/grants/{2**63}/").status_code == 404
    assert client.get(f"/grants/{2**63 - 1}/").status_code == 404


# --- bugs found (fixed; each test pins one) ---------------------------------------------------------


@fuzz(5)
@given(number=st.integers(min_value=2**63, max_value=10**30))
def test_huge_creator_id_is_404_not_500_on_sqlite(client, world, number):
    client.force_login(world.main)
    with rolled_back():
        for name in ("livestreams:creator_overview", "livestreams:creator_livestreams", "livestreams:creator_export"):
            assert client.get(path_with_id(name, number)).status_code == 404
        assert post(client, reverse("grants:switch_perspective"), {"creator": str(number)}).status_code == 404
