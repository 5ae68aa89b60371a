"""Bad input to the perspective switch (SPEC §3): a main account picks a creator by id."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from grants.models import Grant
from grants.perspective import SESSION_KEY
from portal.models import Creator
from tests.model import spec_model as spec

from .generators import HUGE_INTS, garbage
from .helpers import MISSING, absent_pk, counts, delta, fuzz, post, rolled_back
from .oracle import status_of

pytestmark = pytest.mark.django_db


def switchable(world) -> set[int]:
    """The creators the main account of ``shop`` may switch to (SPEC §3), by the spec model."""
    return {
        creator.pk
        for creator in (world.alice, world.bob, world.carol)
        if spec.may_view_creator_data(
            is_the_creator=False,
            main_account=True,
            pair_statuses=[status_of(g) for g in Grant.objects.filter(creator=creator, organization=world.shop)],
        )
    }


@fuzz(40)
@given(
    who=st.sampled_from(["main", "main", "main", "staff", "alice"]),
    value=st.one_of(
        st.sampled_from(["alice", "bob", "carol", "absent", MISSING, ""]),
        HUGE_INTS.map(str),
        garbage(),
    ),
)
def test_perspective_switch_refuses_bad_input(client, world, who, value):
    """The main account of ``shop`` holds active grants from alice and bob, none from carol; its
    sub-account holds no delegation of them."""
    user = {"main": world.main, "staff": world.staff, "alice": world.alice.user}[who]
    client.force_login(user)
    named = {"alice": world.alice.pk, "bob": world.bob.pk, "carol": world.carol.pk, "absent": absent_pk(Creator)}
    if value in named:
        value = str(named[value])
    chosen = int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    allowed = switchable(world)
    with rolled_back():
        before = counts()
        response = post(client, reverse("grants:switch_perspective"), {"creator": value})
        assert delta(before, counts()) == {}
        if who == "alice":  # a creator has no perspective to switch
            assert response.status_code == 403
            return
        if who == "staff":  # a sub-account holding no delegation (SPEC §12): nobody to switch to
            allowed = set()
        if value in (MISSING, ""):
            assert response.status_code == 302
            assert response["Location"] == reverse("grants:org_home")
            assert SESSION_KEY not in client.session
        elif chosen in allowed:
            assert response.status_code == 302
            assert response["Location"] == reverse("livestreams:creator_overview", args=[chosen])
            assert client.session[SESSION_KEY] == chosen
        else:
            assert response.status_code == 404
            assert SESSION_KEY not in client.session
