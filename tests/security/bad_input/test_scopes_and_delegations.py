"""Bad input to the forms of SPEC §12: the creator's 修改授权范围 and 允许/禁止子账号授权, the main
account's 子账号授权 and its 结束; other parties posting to them. Refused: nothing written, the
error shown; done: exactly the rows the operation writes."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from grants import services
from grants.models import FULL_SCOPE, PARTS, Delegation, DelegationEvent, Grant, scope_of
from portal.factories import SubAccountFactory
from portal.models import User

from .generators import HUGE_INTS, date_values, garbage
from .helpers import MISSING, counts, delta, fuzz, is_safe_location, rolled_back, text_of
from .oracle import field_errors, grant_date, parse_pk, today

pytestmark = pytest.mark.django_db

SCOPE_VALUES = st.lists(st.one_of(st.sampled_from(PARTS), garbage(nul=False)), max_size=6)
COUNTED_TOO = (Delegation, DelegationEvent)


def all_counts() -> dict[str, int]:
    return {**counts(), **{model.__name__: model.objects.count() for model in COUNTED_TOO}}


def send(client, url: str, fields: list[tuple[str, str]], htmx: bool):
    data = urlencode([(key, value) for key, value in fields if value != MISSING])
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(url, data, content_type="application/x-www-form-urlencoded", **headers)


def assert_refused(response, before, message: str | None = None) -> None:
    assert all_counts() == before, "a refused post wrote something"
    assert response.status_code == 422, response.status_code
    body = text_of(response)
    assert 'class="errorlist' in body or 'class="form-errors' in body, "no inline error shown"
    if message is not None:
        assert message in body, message


def assert_done(response, htmx: bool, before, writes: dict[str, int]) -> None:
    assert delta(before, all_counts()) == writes
    if htmx:
        assert response.status_code == 200
        assert response.get("HX-Refresh") == "true"
    else:
        assert response.status_code == 302
        assert is_safe_location(response)


def scope_outcome(values: list[str]):
    """(mask, message): the mask a valid scope posts, or the message its refusal shows."""
    if any(value not in PARTS for value in values):
        return None, "授权范围无效。"
    if not values:
        return None, "请至少选择一项授权范围。"
    return scope_of(values), None


@fuzz(40)
@given(
    scope=SCOPE_VALUES,
    shown=st.booleans(),
    choice=st.sampled_from(["active", "expired", "foreign", "absent"]),
    htmx=st.booleans(),
)
def test_change_scope_post(client, world, scope, shown, choice, htmx):
    client.force_login(world.alice.user)
    grant = world.grants.get(choice)
    url = reverse("grants:change_scope", args=[grant.pk if grant else 10**9])
    fields = [("scope", value) for value in scope] + ([("scope_shown", "1")] if shown else [])
    with rolled_back():
        before = all_counts()
        response = send(client, url, fields, htmx)
        if choice in ("foreign", "absent"):  # bob's grant is as absent as a missing one
            assert response.status_code == 404
            assert all_counts() == before
            return
        mask, message = scope_outcome(scope)
        if message is None and choice == "expired":
            message = "只能修改待生效或生效中的授权的范围"
        if message is not None:
            assert_refused(response, before, message)
        else:
            # the main account and the delegate are told (SPEC §10)
            assert_done(response, htmx, before, {"GrantEvent": 1, "Message": 2})
            assert Grant.objects.get(pk=grant.pk).scope == mask


@fuzz(40)
@given(
    sub=st.one_of(
        st.sampled_from(["staff", "delegate", "main", "outsider"]), garbage(), HUGE_INTS.map(str), st.just(MISSING)
    ),
    ends_on=st.one_of(st.sampled_from(["grant_end", "grant_end+1", "today", "yesterday"]), date_values()),
    scope=SCOPE_VALUES,
    htmx=st.booleans(),
)
def test_delegate_post(client, world, sub, ends_on, scope, htmx):
    grant = world.grants["active"]
    delegate = User.objects.get(username="bad-input-delegate")
    named = {
        "staff": world.staff,
        "delegate": delegate,
        "main": world.main,
        "outsider": User.objects.get(username="bad-input-outsider"),
    }
    sub_value = str(named[sub].pk) if sub in named else sub
    day = today()
    ends_value = {
        "grant_end": grant.ends_on.isoformat(),
        "grant_end+1": (grant.ends_on + datetime.timedelta(days=1)).isoformat(),
        "today": day.isoformat(),
        "yesterday": (day - datetime.timedelta(days=1)).isoformat(),
    }.get(ends_on, ends_on)
    fields = [("sub_account", sub_value), ("ends_on", ends_value), ("scope_shown", "1")]
    fields += [("scope", value) for value in scope]
    client.force_login(world.main)
    with rolled_back():
        before = all_counts()
        response = send(client, reverse("grants:delegate", args=[grant.pk]), fields, htmx)
        pk = parse_pk(sub_value)
        chosen = named.get(sub) if sub in named else None
        form_refused = (
            chosen not in (world.staff, delegate)
            or field_errors(ends_on=ends_value)
            or any(value not in PARTS for value in scope)
        )
        if form_refused:
            assert_refused(response, before)
            return
        ends = grant_date(ends_value)
        mask, message = scope_outcome(scope)
        if message is None:
            if ends > grant.ends_on:
                message = "不能晚于达人授权的截止日期"
            elif ends < max(day, grant.starts_on):
                message = "截止日期不能早于今天或授权的开始日期。"
            elif chosen == delegate:
                message = "该子账号已有此授权的子账号授权"
        if message is not None:
            assert_refused(response, before, message)
            return
        assert_done(response, htmx, before, {"Delegation": 1, "DelegationEvent": 1, "Message": 1})
        made = Delegation.objects.latest("pk")
        assert (made.sub_account, made.ends_on, made.scope, made.grant) == (chosen, ends, mask, grant)
        assert pk == chosen.pk


@fuzz(20)
@given(allowed=st.one_of(st.sampled_from(["0", "1"]), garbage(), st.just(MISSING)), htmx=st.booleans())
def test_set_delegation_allowed_post(client, world, allowed, htmx):
    grant = world.grants["active"]
    client.force_login(world.alice.user)
    with rolled_back():
        before = all_counts()
        response = send(client, reverse("grants:set_delegation_allowed", args=[grant.pk]), [("allowed", allowed)], htmx)
        if allowed not in ("0", "1"):
            assert response.status_code == 422
            assert all_counts() == before
        elif allowed == "1":  # already allowed: nothing changes
            assert_done(response, htmx, before, {})
        else:  # forbidding ends the one delegation: the grant's event, the delegation's, its message
            assert_done(response, htmx, before, {"GrantEvent": 1, "DelegationEvent": 1, "Message": 1})
            assert not Grant.objects.get(pk=grant.pk).delegation_allowed


@pytest.mark.parametrize(
    ("who", "status"),
    [("main", 302), ("staff", 403), ("delegate", 403), ("alice", 403), ("other_main", 404), ("bob", 403)],
)
def test_end_delegation_by_each_party(client, world, who, status):
    delegation = Delegation.objects.get(sub_account__username="bad-input-delegate")
    users = {
        "main": world.main, "staff": world.staff, "delegate": delegation.sub_account, "alice": world.alice.user,
        "other_main": world.grants["scheduled"].organization.main_account, "bob": world.bob.user,
    }  # fmt: skip
    client.force_login(users[who])
    before = all_counts()
    for pk in (delegation.pk, delegation.pk + 10**6):
        response = client.post(reverse("grants:end_delegation", args=[pk]))
        if pk != delegation.pk and status == 302:
            assert response.status_code == 404
            continue
        assert response.status_code == status
    if status == 302:
        assert delta(before, all_counts()) == {"DelegationEvent": 1, "Message": 1}
    else:
        assert all_counts() == before


@pytest.fixture(autouse=True)
def delegated(world):
    """The world's active grant delegated to a second sub-account of the shop; an outsider (another
    organization's sub-account)."""
    delegate = SubAccountFactory(organization=world.shop, username="bad-input-delegate")
    SubAccountFactory(username="bad-input-outsider")
    grant = world.grants["active"]
    services.delegate(grant=grant, sub_account=delegate, ends_on=grant.ends_on, actor=world.main)
    assert grant.scope == FULL_SCOPE
