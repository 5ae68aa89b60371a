"""Wrong calendar tokens (SPEC §10's private feed): every near miss, garbage and huge token is the
same 404 — never a 500, never another user's feed, nothing written, no cookie."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from notifications.models import CalendarFeed
from notifications.services import regenerate_calendar_feed

from .helpers import counts, delta, fuzz, rolled_back

pytestmark = pytest.mark.django_db


def feed_path(token: str) -> str:
    return f"/calendar/{quote(token, safe='')}.ics"


@pytest.fixture
def feed(world):
    return regenerate_calendar_feed(actor=world.alice.user)


def test_the_right_token_opens_the_feed(client, feed):
    assert feed_path(feed.token) == reverse("notifications:calendar_feed", args=[feed.token])
    assert client.get(feed_path(feed.token)).status_code == 200


def near_misses(feed: CalendarFeed) -> list[str]:
    token, selector, secret = feed.token, feed.selector, feed.secret
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    return [
        selector + flipped,  # the right row, a wrong secret (one character)
        selector + secret[:-1],  # a prefix
        selector + secret + "x",  # one character more
        selector,  # the selector alone
        selector + "",
        secret,  # the secret alone
        ("A" if selector[0] != "A" else "B") + selector[1:] + secret,  # a wrong selector, the right secret
        token.upper() if token.upper() != token else token.lower(),
        token[::-1],
        " " + token,
        token + "\x00",
        "\x00" + token[1:],  # a NUL in the selector: never sent to the database
        token.replace(token[-1], "é"),
        selector + "x" * 10_000,
        "",
    ]


def test_near_misses_are_the_same_404(client, feed):
    reference = client.get(feed_path("nothing-at-all-" + "x" * 40))
    assert reference.status_code == 404
    for wrong in near_misses(feed):
        if not wrong:
            continue
        before = counts()
        response = client.get(feed_path(wrong))
        assert response.status_code == 404, wrong
        assert response.content == reference.content
        assert not response.cookies
        assert delta(before, counts()) == {}


def test_other_methods_are_refused(client, feed):
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)(feed_path(feed.token)).status_code == 405


@fuzz(40)
@given(token=st.text(min_size=1, max_size=80))
def test_garbage_tokens_are_404(client, world, token):
    with rolled_back():
        before = counts()
        response = client.get(feed_path(token))
        assert response.status_code == 404
        assert delta(before, counts()) == {}


@fuzz(20)
@given(token=st.from_regex(r"[A-Za-z0-9_-]{55}", fullmatch=True))
def test_well_formed_random_tokens_are_404(client, world, token):
    with rolled_back():
        regenerate_calendar_feed(actor=world.alice.user)
        assert client.get(feed_path(token)).status_code == 404
