"""Every portal URL requires login: an anonymous request is sent to the login page."""

import pytest
from django.urls import reverse

from tests.urlmap import all_routes

PUBLIC = {"login", "set_language", "healthz", "readyz"}
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
