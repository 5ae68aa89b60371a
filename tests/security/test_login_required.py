"""Every portal URL requires login: an anonymous request is sent to the login page."""

import pytest
from django.urls import reverse

from tests.urlmap import all_routes

# The calendar feed: a calendar program has no session; the URL's secret token is the credential
# (tests/security/bad_input/test_calendar_tokens.py, grants/tests/test_calendar.py).
PUBLIC = {"login", "set_language", "healthz", "readyz", "notifications:calendar_feed"}
ROUTES = [r for r in all_routes() if r.name not in PUBLIC]


def _url(route):
    kwargs = dict.fromkeys(route.params, 1)
    return reverse(route.name, kwargs=kwargs)


def test_public_routes_are_exactly_the_known_ones():
    assert {r.name for r in all_routes()} >= PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(client, route, method):
    url = _url(route)
    response = getattr(client, method)(url)
    assert response.status_code == 302, f"{method.upper()} {url} answered {response.status_code}"
    assert response.url.startswith(reverse("login") + "?next=")
