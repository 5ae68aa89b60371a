"""Bad parameters to the pages that read them (GET): the creator data range (SPEC §6), list
filters and searches. Never a 500, never a write; a refused range is said so."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.factories import CreatorFactory

from .generators import HUGE_INTS, date_values, garbage
from .helpers import MISSING, counts, delta, fuzz, rolled_back, text_of
from .oracle import range_refused

pytestmark = pytest.mark.django_db


RANGE_DATES = st.one_of(
    st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)).map(datetime.date.isoformat), date_values()
)


@fuzz(45)
@given(
    page=st.sampled_from(
        ["livestreams:creator_overview", "livestreams:creator_livestreams", "livestreams:creator_export"]
    ),
    params=st.fixed_dictionaries(
        {},
        optional={
            "range": st.one_of(st.sampled_from(["7", "30", "90", "", "365", "0", "-7"]), garbage()),
            "start": RANGE_DATES,
            "end": RANGE_DATES,
            "sort": st.one_of(st.sampled_from(["gmv", "orders", "peak_online", "-gmv", "pk"]), garbage()),
            "page": st.one_of(HUGE_INTS.map(str), st.sampled_from(["0", "-1", "2"]), garbage()),
        },
    ),
    viewer=st.sampled_from(["alice", "main"]),
)
def test_creator_data_range_parameters_never_fail(client, world, page, params, viewer):
    params = {key: value for key, value in params.items() if value != MISSING}
    refused = range_refused(params)
    client.force_login(world.alice.user if viewer == "alice" else world.main)
    with rolled_back():
        before = counts()
        response = client.get(reverse(page, args=[world.alice.pk]), params)
        body = text_of(response)
        assert response.status_code == 200
        assert delta(before, counts()) == {}
        if page == "livestreams:creator_export":
            assert response["Content-Type"].startswith("text/csv")
        else:
            assert ('class="form-errors" role="alert"' in body) == refused


SEARCH_PAGES = {
    "grants:organization_search": "alice",
    "grants:authorize": "alice",
    "grants:creator_grants": "alice",
    "grants:creator_requests": "alice",
    "grants:org_home": "main",
    "livestreams:org_livestreams": "staff",
}


@fuzz(35)
@given(
    name=st.sampled_from(sorted(SEARCH_PAGES)),
    params=st.fixed_dictionaries(
        {},
        optional={
            "q": garbage(),
            "status": st.one_of(st.sampled_from(["active", "expired", "pending", "all", "ACTIVE"]), garbage()),
            "page": st.one_of(HUGE_INTS.map(str), garbage()),
            "organization": st.one_of(HUGE_INTS.map(str), garbage()),
            "starts_on": date_values(),
            "ends_on": date_values(),
        },
    ),
    htmx=st.booleans(),
)
def test_list_filters_and_searches_never_fail(client, world, name, params, htmx):
    who = SEARCH_PAGES[name]
    client.force_login({"alice": world.alice.user, "main": world.main, "staff": world.staff}[who])
    with rolled_back():
        before = counts()
        response = client.get(reverse(name), params, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        text_of(response)
        assert response.status_code == 200
        assert delta(before, counts()) == {}


# --- bugs found (fixed; each test pins one) ---------------------------------------------------------


def test_search_with_nul_byte_is_answered_not_500(client, world):
    for name in ("grants:organization_search", "grants:authorize", "grants:creator_grants", "grants:org_home"):
        client.force_login(world.main if name == "grants:org_home" else world.alice.user)
        with rolled_back():
            response = client.get(reverse(name), {"q": "一号\x00店"})
            assert response.status_code in (200, 400), name


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("livestreams:creator_overview", "0001-01-01", "0001-01-10"),
        ("livestreams:creator_overview", "9999-12-01", "9999-12-31"),
        ("livestreams:creator_livestreams", "9999-12-01", "9999-12-31"),
        ("livestreams:creator_export", "9999-12-01", "9999-12-31"),
    ],
)
def test_creator_data_range_at_the_calendar_edges_is_refused_not_500(client, db, name, start, end):
    creator = CreatorFactory()
    client.force_login(creator.user)
    with rolled_back():
        response = client.get(reverse(name, args=[creator.pk]), {"start": start, "end": end})
        text_of(response)
        assert response.status_code == 200


# --- the data-access log's filters and the exports (SPEC §11, §13) ------------------------------------

LOG_PAGES = ("grants:access_log", "grants:access_log_csv")
EXPORTS = {"grants:creator_grants_csv": "alice", "grants:org_grants_csv": "main"}


@fuzz(40)
@given(
    name=st.sampled_from(LOG_PAGES),
    params=st.fixed_dictionaries(
        {},
        optional={
            "q": garbage(),
            "organization": st.one_of(HUGE_INTS.map(str), st.sampled_from(["0", "-1", "1.5", ""]), garbage()),
            "kind": st.one_of(st.sampled_from(["overview", "traffic", "OVERVIEW", ""]), garbage()),
            "start": RANGE_DATES,
            "end": RANGE_DATES,
            "page": st.one_of(HUGE_INTS.map(str), st.sampled_from(["0", "-1", "2"]), garbage()),
        },
    ),
    viewer=st.sampled_from(["alice", "main"]),
    htmx=st.booleans(),
)
def test_access_log_filters_never_fail(client, world, name, params, viewer, htmx):
    params = {key: value for key, value in params.items() if value != MISSING}
    client.force_login(world.alice.user if viewer == "alice" else world.main)
    with rolled_back():
        before = counts()
        response = client.get(reverse(name), params, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        text_of(response)
        assert response.status_code == 200
        assert delta(before, counts()) == {}
        if name.endswith("_csv"):
            assert response["Content-Type"].startswith("text/csv")


@fuzz(25)
@given(
    name=st.sampled_from(sorted(EXPORTS)),
    params=st.fixed_dictionaries(
        {},
        optional={
            "q": garbage(),
            "status": st.one_of(st.sampled_from(["active", "idle", "pending", "all", "ACTIVE"]), garbage()),
        },
    ),
)
def test_grant_list_exports_never_fail(client, world, name, params):
    client.force_login(world.alice.user if EXPORTS[name] == "alice" else world.main)
    with rolled_back():
        response = client.get(reverse(name), params)
        text_of(response)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
