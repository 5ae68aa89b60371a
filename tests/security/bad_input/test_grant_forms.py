"""Bad input to the full-data grant forms (SPEC §4): authorize, renew early, renew, revoke, and
other parties posting to them; the refusals come from the spec model's rules."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from hypothesis import assume, given
from hypothesis import strategies as st

from grants.models import Grant
from portal.models import Organization
from tests.model import spec_model as spec

from .generators import EXTRA_FIELDS, HTMX, HUGE_INTS, NEXT_VALUES, date_values, garbage
from .helpers import (
    MISSING,
    absent_pk,
    assert_done,
    assert_not_found,
    assert_refused,
    counts,
    delta,
    fuzz,
    is_safe_location,
    path_with_id,
    post,
    rolled_back,
)
from .oracle import MSG_REQUIRED_DATE, field_errors, grant_date, parse_pk, shown, status_of, today
from .world import World

pytestmark = pytest.mark.django_db


def org_values(world_orgs: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        world_orgs,  # any organization that exists is the creator's choice, whatever the picker showed
        st.sampled_from(["absent"]),  # an id that exists nowhere
        HUGE_INTS.map(str),
        st.sampled_from(["0", "-1", "1.0", " 1", "1 ", "0x1"]),
        garbage(),
        st.just(MISSING),
    )


@fuzz(60)
@given(data=st.data())
def test_authorize_post_refuses_bad_input_and_writes_only_valid_grants(client, world, data):
    client.force_login(world.alice.user)
    org_ids = [str(pk) for pk in Organization.objects.values_list("pk", flat=True)]
    org = data.draw(org_values(st.sampled_from(org_ids)), label="organization")
    if org == "absent":
        org = str(absent_pk(Organization))
    fields = {
        "organization": org,
        "starts_on": data.draw(st.one_of(st.just(today().isoformat()), date_values()), label="starts_on"),
        "ends_on": data.draw(date_values(), label="ends_on"),
        "next": data.draw(NEXT_VALUES, label="next"),
        **data.draw(EXTRA_FIELDS, label="extra"),
    }
    htmx = data.draw(HTMX, label="htmx")

    errors = []
    pk = parse_pk(org)
    organization = Organization.objects.filter(pk=pk).first() if isinstance(pk, int) and pk < 2**63 else None
    if pk == "required":
        errors.append(("organization", "请先搜索并选择商家/机构。"))
    elif organization is None:
        errors.append(("organization", None if "\x00" in org else "所选商家/机构不存在。"))
    starts, ends = grant_date(fields["starts_on"]), grant_date(fields["ends_on"])
    errors += field_errors(starts_on=fields["starts_on"], ends_on=fields["ends_on"])
    if not errors:
        pair = [status_of(grant) for grant in Grant.objects.filter(creator=world.alice, organization=organization)]
        errors += shown(spec.authorize_refusal(pair, starts_on=starts, ends_on=ends, today=today()))

    with rolled_back():
        before = counts()
        response = post(client, reverse("grants:authorize"), fields, htmx)
        if errors:
            assert_refused(response, htmx, errors, before)
        else:
            assert_done(response, htmx, before, {"Grant": 1, "GrantEvent": 1, "Message": 1})
            grant = Grant.objects.order_by("-pk").first()
            assert (grant.creator, grant.organization, grant.starts_on, grant.ends_on) == (
                world.alice,
                organization,
                starts,
                ends,
            )
            assert grant.events.get().operation == "authorize"


GRANT_CHOICES = st.sampled_from(["active", "scheduled", "expired", "revoked", "foreign", "absent", "huge"])


def grant_url(world: World, name: str, choice: str, huge: int) -> tuple[str, Grant | None]:
    if choice == "absent":
        return reverse(name, args=[absent_pk(Grant)]), None
    if choice == "huge":
        return path_with_id(name, huge), None
    grant = world.grants[choice]
    return reverse(name, args=[grant.pk]), (None if choice == "foreign" else grant)


@fuzz(40)
@given(
    choice=GRANT_CHOICES,
    huge=HUGE_INTS,
    ends_on=date_values(),
    next_url=NEXT_VALUES,
    extra=EXTRA_FIELDS,
    htmx=HTMX,
)
def test_renew_early_post_refuses_bad_input(client, world, choice, huge, ends_on, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:renew_early", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"ends_on": ends_on, "next": next_url, **extra}, htmx)
        if grant is None:  # another creator's grant is as absent as a missing one
            assert_not_found(response, before)
            return
        ends = grant_date(ends_on)
        if errors := field_errors(ends_on=ends_on):
            assert_refused(response, htmx, errors, before)
        elif refusal := spec.renew_early_refusal(status_of(grant), current_ends_on=grant.ends_on, ends_on=ends):
            assert_refused(response, htmx, shown(refusal), before)
        else:
            assert_done(response, htmx, before, {"GrantEvent": 1, "Message": 1})
            renewed = Grant.objects.get(pk=grant.pk)
            assert (renewed.starts_on, renewed.ends_on) == (grant.starts_on, ends)


@fuzz(40)
@given(
    choice=GRANT_CHOICES,
    huge=HUGE_INTS,
    starts_on=st.one_of(st.just(today().isoformat()), date_values()),
    ends_on=date_values(),
    next_url=NEXT_VALUES,
    extra=EXTRA_FIELDS,
    htmx=HTMX,
)
def test_renew_post_refuses_bad_input(client, world, choice, huge, starts_on, ends_on, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:renew", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"starts_on": starts_on, "ends_on": ends_on, "next": next_url, **extra}, htmx)
        if grant is None:
            assert_not_found(response, before)
            return
        starts, ends = grant_date(starts_on), grant_date(ends_on)
        if errors := field_errors(starts_on=starts_on, ends_on=ends_on):
            assert_refused(response, htmx, errors, before)
        elif refusal := spec.renew_refusal(status_of(grant), starts_on=starts, ends_on=ends, today=today()):
            assert_refused(response, htmx, shown(refusal), before)
        else:
            assert_done(response, htmx, before, {"GrantEvent": 1, "Message": 1})
            renewed = Grant.objects.get(pk=grant.pk)
            assert (renewed.starts_on, renewed.ends_on, renewed.revoked_at) == (starts, ends, None)


@fuzz(25)
@given(choice=GRANT_CHOICES, huge=HUGE_INTS, next_url=NEXT_VALUES, extra=EXTRA_FIELDS, htmx=HTMX)
def test_revoke_post_refuses_bad_input(client, world, choice, huge, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:revoke", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"next": next_url, **extra}, htmx)
        if grant is None:
            assert_not_found(response, before)
        elif refusal := spec.revoke_refusal(status_of(grant)):
            assert_refused(response, htmx, shown(refusal), before)
        else:
            assert_done(response, htmx, before, {"GrantEvent": 1, "Message": 1})
            assert Grant.objects.get(pk=grant.pk).status == "revoked"


# Who may not post to alice's objects, and what they get: 403 for a party that may never use the
# form (an organization's account at a creator's form, a creator at an organization's), 404 for one
# who may use the form but not see this object (another creator: the grant is not theirs to know of).
CROSS_PARTY = {
    "grant": {"main": 403, "staff": 403, "bob": 404, "carol": 404},
    "request": {"main": 403, "staff": 403, "bob": 404, "carol": 404},
    "unlock": {"alice": 403, "bob": 404, "carol": 404, "main": 403},  # main: the modules are open to it
}


@fuzz(25)
@given(
    target=st.sampled_from(
        [("grant", name) for name in ("grants:revoke", "grants:renew_early", "grants:renew")]
        + [("request", f"grants:{verb}_request") for verb in ("approve", "decline", "revoke")]
        + [("unlock", "livestreams:unlock")]
    ),
    who=st.sampled_from(["alice", "main", "staff", "bob", "carol"]),
    choice=st.sampled_from(["active", "scheduled", "expired", "revoked", "pending", "approved", "declined", "free"]),
    fields=st.fixed_dictionaries(
        {"starts_on": date_values(), "ends_on": date_values()}, optional={"next": NEXT_VALUES}
    ),
)
def test_other_parties_are_refused_whatever_they_post(client, world, target, who, choice, fields):
    kind, name = target
    status = CROSS_PARTY[kind].get(who)
    assume(status is not None)
    user = {"alice": world.alice.user, "main": world.main, "staff": world.staff}
    client.force_login(user[who] if who in user else getattr(world, who).user)
    pool = {"grant": world.grants, "request": world.requests, "unlock": world.streams}[kind]
    obj = pool.get(choice) or next(iter(pool.values()))
    assume(kind != "unlock" or obj.creator == world.alice)
    with rolled_back():
        before = counts()
        response = post(client, reverse(name, args=[obj.pk]), fields)
        assert response.status_code == status
        assert delta(before, counts()) == {}


# --- bugs found (fixed; each test pins one) ---------------------------------------------------------

# Characters that are digits to str.isdigit() but not to int(): '²', '①', '⑴' ...
NON_DECIMAL_DIGITS = [chr(c) for c in range(0x10000) if chr(c).isdigit() and not chr(c).isdecimal()]
BAD_DIGITS = st.text(alphabet=st.sampled_from(NON_DECIMAL_DIGITS), min_size=1, max_size=5) | st.just("1" * 4301)


@fuzz(5)
@given(value=BAD_DIGITS, form=st.sampled_from(["perspective", "authorize-get", "authorize-post"]))
def test_digit_like_ids_are_refused_not_500(client, world, value, form):
    with rolled_back():
        before = counts()
        if form == "perspective":
            client.force_login(world.main)
            assert post(client, reverse("grants:switch_perspective"), {"creator": value}).status_code == 404
        elif form == "authorize-get":
            client.force_login(world.alice.user)
            assert client.get(reverse("grants:authorize"), {"organization": value}).status_code == 200
        else:
            client.force_login(world.alice.user)
            fields = {"organization": value, "starts_on": today().isoformat(), "ends_on": today().isoformat()}
            response = post(client, reverse("grants:authorize"), fields)
            assert_refused(response, "plain", [("organization", "所选商家/机构不存在。")], before)
        assert delta(before, counts()) == {}


@pytest.mark.parametrize("operation", ["authorize", "renew", "renew_early"])
def test_end_date_9999_12_31_does_not_break_the_grant(client, world, operation):
    client.force_login(world.alice.user)
    fields = {"starts_on": today().isoformat(), "ends_on": "9999-12-31"}
    with rolled_back():
        if operation == "authorize":
            post(client, reverse("grants:authorize"), {**fields, "organization": world.free_orgs[0].pk})
            grant = Grant.objects.filter(creator=world.alice, organization=world.free_orgs[0]).first()
            if grant is None:
                return  # refused: fine
        else:
            grant = world.grants["expired" if operation == "renew" else "active"]
            post(client, reverse(f"grants:{operation}", args=[grant.pk]), fields)
        grant.refresh_from_db()
        if grant.ends_on != datetime.date(9999, 12, 31):
            return  # refused: fine
        assert client.get(reverse("grants:creator_grants")).status_code == 200
        assert client.get(reverse("grants:renew_early", args=[grant.pk])).status_code == 200


@pytest.mark.parametrize(("name", "choice"), [("grants:renew_early", "active"), ("grants:renew", "expired")])
def test_empty_post_to_renewal_forms_says_what_is_missing(client, world, name, choice):
    """A POST with an empty body (an hx-post carrying only the X-CSRFToken header) is a form with
    every field missing: 422 and the required-field message, like /grants/new/."""
    client.force_login(world.alice.user)
    with rolled_back():
        before = counts()
        response = post(client, reverse(name, args=[world.grants[choice].pk]), {}, csrf=False)
        assert_refused(response, "plain", [("ends_on", MSG_REQUIRED_DATE)], before)


# One per redirecting helper: _after_action (grant operations) and _decide_request (requests, also
# when the decision is refused).
NEXT_ROUTES = [
    ("grants:authorize", None),
    ("grants:renew_early", "active"),
    ("grants:approve_request", "pending"),
    ("grants:approve_request", "approved"),  # refused: redirects back with a message all the same
]


@pytest.mark.parametrize(("name", "choice"), NEXT_ROUTES)
@pytest.mark.parametrize("next_url", ["abc"])
def test_next_without_slash_or_dot_does_not_crash_the_redirect(client, world, name, choice, next_url):
    client.force_login(world.alice.user)
    fields = {
        "next": next_url,
        "starts_on": today().isoformat(),
        "ends_on": (today() + datetime.timedelta(days=400)).isoformat(),
    }
    if choice is None:
        url, fields["organization"] = reverse(name), world.free_orgs[0].pk
    elif name.endswith("_request"):
        url = reverse(name, args=[world.requests[choice].pk])
    else:
        url = reverse(name, args=[world.grants[choice].pk])
    with rolled_back():
        response = post(client, url, fields)
        assert response.status_code == 302
        assert is_safe_location(response)
