"""Hostile HTMX headers on every route (issue 12, item 7): ``HX-Current-URL``, ``HX-Target``,
``HX-Trigger``, ``HX-Trigger-Name``, ``HX-Request``, ``HX-Boosted``, ``HX-Prompt``,
``HX-History-Restore-Request``, ``Triggering-Event`` and the ``…-URI-AutoEncoded`` flags are the
client's to send. Whatever they hold: never a 500, and a request whose change was saved always
reports it (a redirect, a refresh, the updated fragment), never an error after the write.

Every route of the resolver, as anonymous, the creator, a main account and a sub-account, GET and
POST with the data that makes the POST succeed, under fixed hostile header sets; then Hypothesis
draws the headers."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from grants import access
from grants.models import Delegation
from notifications.models import CalendarFeed, Message
from notifications.services import regenerate_calendar_feed
from portal.factories import DEMO_PASSWORD
from tests.urlmap import all_routes

from .helpers import counts, delta, fuzz, rolled_back
from .oracle import today
from .world import World

pytestmark = pytest.mark.django_db

ROUTES = all_routes()
ROLES = ("anonymous", "alice", "main", "staff")
HEADERS = (
    "HX-Request",
    "HX-Boosted",
    "HX-Current-URL",
    "HX-Current-URL-URI-AutoEncoded",
    "HX-Target",
    "HX-Target-URI-AutoEncoded",
    "HX-Trigger",
    "HX-Trigger-Name",
    "HX-Prompt",
    "HX-History-Restore-Request",
    "Triggering-Event",
)
# fmt: off
HOSTILE_URLS = [
    "http://[", "http://[::1", "http://]", "https://[v1.x]/grants/", "http://testserver:99999/grants/",
    "http://testserver:-1/grants/", "http://testserver:abc/grants/", "//", "/grants/?status=%", "%zz",
    "javascript:alert(1)", "http://evil.example/grants/", "\x00", "grants", "http://testserver/grants/\r\nX: y",
    "http://testserver/grants/?q=" + "一" * 3000, "",
]
HOSTILE_TEXT = ["", "true", "false", "TRUE", "1", "null", "{", '{"x":', "<script>", "\x00", "a" * 10_000, "%", "%0",
                "org-request-list", "grant-list", "big-screen-live", "请求"]
# fmt: on
FIXED_SETS = [
    {
        name: ("http://[" if "URL" in name and "Encoded" not in name else "true" if name != "HX-Target" else "<x>")
        for name in HEADERS
    },  # fmt: skip
    {
        "HX-Request": "true",
        "HX-Boosted": "false",
        "HX-Current-URL": "http://testserver:99999/grants/?status=%zz",
        "HX-Current-URL-URI-AutoEncoded": "true",
        "HX-Target": "%zz",
        "HX-Target-URI-AutoEncoded": "true",
        "Triggering-Event": "{not json",
        "HX-Prompt": "\x00",
    },
]


def _user(world: World, role: str):
    return {"anonymous": None, "alice": world.alice.user, "main": world.main, "staff": world.staff}[role]


def _feed_token(world: World) -> str:
    """alice's private calendar URL's token (made once per world)."""
    feed = CalendarFeed.objects.filter(user=world.alice.user).first()
    return (feed or regenerate_calendar_feed(actor=world.alice.user)).token


def _target(world: World, route) -> tuple[str, dict]:
    """The route's URL filled with the world's objects, and the POST data that makes it succeed."""
    grant = world.grants["expired" if route.name == "grants:renew" else "active"]
    access_request = world.requests["approved" if route.name == "grants:revoke_request" else "pending"]
    ids = {
        "creator_id": world.alice.pk,
        "grant_id": grant.pk,
        "request_id": access_request.pk,
        "livestream_id": world.streams["free"].pk,
        "grant_request_id": world.grant_requests["pending"].pk,
        "message_id": Message.objects.order_by("pk").values_list("pk", flat=True).first() or 1,
        "token": _feed_token(world),
        "preview": access.preview_token(creator=world.alice, grant=grant),
        "delegation_id": Delegation.objects.order_by("pk").values_list("pk", flat=True).first() or 1,
    }
    url = reverse(route.name, kwargs={name: ids[name] for name in route.params})
    day = today()
    data = {
        "grants:authorize": {
            "organization": world.free_orgs[0].pk,
            "starts_on": day.isoformat(),
            "ends_on": (day + datetime.timedelta(days=10)).isoformat(),
        },
        "grants:renew_early": {"ends_on": (grant.ends_on + datetime.timedelta(days=30)).isoformat()},
        "grants:renew": {"starts_on": day.isoformat(), "ends_on": (day + datetime.timedelta(days=5)).isoformat()},
        "grants:switch_perspective": {"creator": world.alice.pk},
        "grants:change_scope": {"scope": "overview", "scope_shown": "1"},
        "grants:set_delegation_allowed": {"allowed": "0"},
        "grants:delegate": {
            "sub_account": world.staff.pk,
            "ends_on": day.isoformat(),
            "scope_shown": "1",
            "scope": "overview",
        },
        "set_language": {"language": "en", "next": "/"},
        "login": {"username": "alice", "password": DEMO_PASSWORD},
    }.get(route.name, {})
    return url, data


def _meta(headers: dict[str, str]) -> dict[str, str]:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def reports_the_change(response) -> bool:
    """A saved change is answered with a redirect, a client refresh/redirect, or a fragment that
    closes the dialog or replaces the row — not an error, not a form with errors."""
    if response.status_code == 302:
        return True
    if response.status_code != 200:
        return False
    if response.get("HX-Refresh") == "true" or response.get("HX-Redirect"):
        return True
    return 'class="errorlist' not in response.content.decode("utf-8", "replace")


def _check(client: Client, world: World, route, role: str, method: str, headers: dict[str, str]) -> None:
    url, data = _target(world, route)
    with rolled_back():
        client.logout()
        user = _user(world, role)
        if user is not None:
            client.force_login(user)
        before = counts()
        # Exceptions propagate from the test client: a 500 fails here with its traceback.
        response = getattr(client, method)(url, data if method == "post" else None, **_meta(headers))
        assert response.status_code < 500, (route.name, role, method, headers)
        if delta(before, counts()):
            assert reports_the_change(response), (route.name, role, method, response.status_code, headers)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_hostile_htmx_headers_on_every_route(client, world, route):
    for headers in FIXED_SETS:
        for role in ROLES:
            for method in ("get", "post"):
                _check(client, world, route, role, method, headers)


def test_every_write_route_writes_under_hostile_headers_and_reports_it(client, world):
    """The routes whose POST changes something do change it under the hostile headers (so the
    sweep above really exercises the answer after a write), and report it."""
    writers = {
        "grants:authorize": "alice", "grants:revoke": "alice", "grants:renew_early": "alice",
        "grants:renew": "alice", "grants:approve_request": "alice", "grants:decline_request": "alice",
        "grants:revoke_request": "alice", "livestreams:unlock": "staff", "grants:change_scope": "alice",
        "grants:delegate": "main",
    }  # fmt: skip
    routes = {route.name: route for route in ROUTES}
    for name, role in writers.items():
        for headers in FIXED_SETS:
            url, data = _target(world, routes[name])
            with rolled_back():
                client.force_login(_user(world, role))
                before = counts()
                response = client.post(url, data, **_meta(headers))
                assert delta(before, counts()), f"{name} wrote nothing under {headers}"
                assert reports_the_change(response), (name, response.status_code)


def header_values(name: str):
    choices = HOSTILE_URLS if "URL" in name and "Encoded" not in name else HOSTILE_TEXT
    return st.one_of(
        st.sampled_from(choices),
        st.text(max_size=40),
        st.text(alphabet=st.characters(max_codepoint=255), max_size=200),
    )


@st.composite
def header_sets(draw):
    names = draw(st.sets(st.sampled_from(HEADERS), min_size=1))
    headers = {name: draw(header_values(name)) for name in sorted(names)}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
    return headers


@fuzz(120)
@given(
    route=st.sampled_from(ROUTES),
    role=st.sampled_from(ROLES),
    method=st.sampled_from(["get", "post"]),
    headers=header_sets(),
)
def test_generated_htmx_headers_never_give_a_500(world, route, role, method, headers):
    _check(Client(), world, route, role, method, headers)
