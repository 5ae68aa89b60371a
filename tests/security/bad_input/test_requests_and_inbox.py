"""Bad input to the forms of SPEC §9–§10: 申请全部带货数据, 申请续约, approving and declining full-data
and extension requests, the bulk decisions, 通知设置 and the inbox's parameters. Refusals come from
the spec model's rules (``tests/model/spec_model.py``)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from hypothesis import event, given
from hypothesis import strategies as st

from grants.models import Grant, GrantRequest, LivestreamAccessRequest
from notifications.models import NotificationSettings
from portal.models import Creator
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
    path_with_id,
    post,
    rolled_back,
    text_of,
)
from .oracle import SHOWN, field_errors, grant_date, parse_pk, shown, status_of, today, value_of
from .world import World

pytestmark = pytest.mark.django_db

TEXTS = st.one_of(
    st.just(MISSING), garbage(), st.sampled_from(["好的", " " * 4, "字" * 200, " " + "字" * 200 + " ", "字" * 201])
)


def valid_period(first: datetime.date | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """A period a form accepts (dates from ``first``, today by default): half of the examples, so the
    successful path is walked as often as the refusals."""
    first = first or today()
    return st.tuples(st.integers(0, 5), st.integers(0, 40)).map(
        lambda p: (
            (first + datetime.timedelta(days=p[0])).isoformat(),
            (first + datetime.timedelta(days=p[0] + p[1])).isoformat(),
        )
    )


def any_period(first: datetime.date | None = None) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(
        valid_period(first), st.tuples(st.one_of(st.just(today().isoformat()), date_values()), date_values())
    )


def text_errors(**posted: str) -> list[tuple[str, str | None]]:
    """Inline errors of the optional text fields (message, reason): the spec model's text rule."""
    return [(name, None) for name, value in posted.items() if spec.text_refusal(value_of(value))]


def request_status(grant_request: GrantRequest) -> str:
    stored = GrantRequest.objects.values_list("status", flat=True).get(pk=grant_request.pk)
    return spec.request_status(stored, made_at=grant_request.created_at, now=timezone.now())


def pending_between(creator, organization, kind: str) -> bool:
    rows = GrantRequest.objects.filter(creator=creator, organization=organization, kind=kind)
    return any(request_status(row) == spec.PENDING for row in rows)


def last_decline(creator, organization) -> datetime.datetime | None:
    rows = GrantRequest.objects.filter(creator=creator, organization=organization, kind="grant", status="declined")
    return max((row.decided_at for row in rows), default=None)


# --- 申请全部带货数据 --------------------------------------------------------------------------------

ASKERS = st.sampled_from(["shop", "shop", "free0", "declined", "staff", "alice"])


def asker(world: World, who: str):
    return {
        "shop": world.main,
        "free0": world.free_orgs[0].main_account,
        "declined": world.grant_requests["declined"].organization.main_account,
        "staff": world.staff,
        "alice": world.alice.user,
    }[who]


@fuzz(60)
@given(data=st.data())
def test_request_grant_post_refuses_bad_input(client, world, data):
    who = data.draw(ASKERS, label="who")
    user = asker(world, who)
    client.force_login(user)
    creator_ids = [str(pk) for pk in Creator.objects.values_list("pk", flat=True)]
    creator_value = data.draw(
        st.one_of(
            st.just(str(world.carol.pk)),  # the one creator nobody asked yet
            st.sampled_from(creator_ids),
            st.one_of(st.just("absent"), HUGE_INTS.map(str), garbage(), st.just(MISSING)),
        ),
        label="creator",
    )
    if creator_value == "absent":
        creator_value = str(absent_pk(Creator))
    starts_on, ends_on = data.draw(any_period(), label="period")
    extra = data.draw(EXTRA_FIELDS, label="extra")  # tampered fields ("creator" among them) come first
    fields = {
        **extra,
        "creator": creator_value,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "message": data.draw(st.one_of(st.just(MISSING), TEXTS), label="message"),
        "next": data.draw(NEXT_VALUES, label="next"),
    }
    htmx = data.draw(HTMX, label="htmx")
    pk = parse_pk(creator_value)
    creator = Creator.objects.filter(pk=pk).first() if isinstance(pk, int) and pk < 2**63 else None
    errors = []
    if pk == "required":
        errors.append(("creator", "请先搜索并选择达人。"))
    elif creator is None:
        errors.append(("creator", None))
    errors += field_errors(starts_on=fields["starts_on"], ends_on=fields["ends_on"])
    errors += text_errors(message=fields["message"])
    if not errors and who not in ("staff", "alice"):
        organization = user.membership.organization
        pair = [status_of(g) for g in Grant.objects.filter(creator=creator, organization=organization)]
        refusal = spec.request_grant_refusal(
            pair, pending=pending_between(creator, organization, "grant"),
            declined_at=last_decline(creator, organization), now=timezone.now(),
            starts_on=grant_date(fields["starts_on"]), ends_on=grant_date(fields["ends_on"]), today=today(),
        )  # fmt: skip
        if refusal is not None:
            errors = [("creator", "该达人")] if refusal.code == "already_granted" else shown(refusal)
    with rolled_back():
        before = counts()
        response = post(client, reverse("grants:request_grant"), fields, htmx)
        if who in ("staff", "alice"):  # only a main account asks
            assert response.status_code == 403
            assert delta(before, counts()) == {}
            return
        event("refused" if errors else "done")
        if errors:
            assert_refused(response, htmx, errors, before)
            return
        assert_done(response, htmx, before, {"GrantRequest": 1, "GrantRequestEvent": 1, "Message": 1})
        made = GrantRequest.objects.latest("pk")
        assert (made.creator, made.organization, made.kind, made.requested_by) == (
            creator, user.membership.organization, "grant", user,
        )  # fmt: skip
        assert made.message == (value_of(fields["message"]) or "").strip()


# --- 申请续约 ------------------------------------------------------------------------------------

EXTENSION_CHOICES = st.sampled_from(["active", "scheduled", "expired", "revoked", "foreign", "absent", "huge"])


@fuzz(50)
@given(
    choice=EXTENSION_CHOICES,
    who=st.sampled_from(["own_main", "own_main", "own_main", "shop", "staff", "alice"]),
    huge=HUGE_INTS,
    data=st.data(),
    message=st.one_of(st.just(MISSING), TEXTS),
    htmx=HTMX,
)
def test_request_extension_post_refuses_bad_input(client, world, choice, who, huge, data, message, htmx):
    grant = world.grants.get(choice)
    later = grant.ends_on + datetime.timedelta(days=1) if grant is not None and status_of(grant) != "expired" else None
    starts_on, ends_on = data.draw(any_period(later), label="period")
    users = {"shop": world.main, "staff": world.staff, "alice": world.alice.user}
    user = grant.organization.main_account if who == "own_main" and grant is not None else users.get(who, world.main)
    client.force_login(user)
    if choice == "absent":
        url = reverse("grants:request_extension", args=[absent_pk(Grant)])
    elif choice == "huge":
        url = path_with_id("grants:request_extension", huge)
    else:
        url = reverse("grants:request_extension", args=[grant.pk])
    errors, live = [], False
    if grant is not None and user.membership_or_none and grant.organization_id == user.membership.organization_id:
        status = status_of(grant)
        live = status in spec.RENEWABLE_EARLY
        errors = field_errors(ends_on=ends_on) if live else field_errors(starts_on=starts_on, ends_on=ends_on)
        errors += text_errors(message=message)
        if not errors:
            refusal = spec.extension_refusal(
                status, pending=pending_between(grant.creator, grant.organization, "extension"),
                current_ends_on=grant.ends_on, starts_on=None if live else grant_date(starts_on),
                ends_on=grant_date(ends_on), today=today(),
            )  # fmt: skip
            errors = shown(refusal)
    with rolled_back():
        before = counts()
        response = post(client, url, {"starts_on": starts_on, "ends_on": ends_on, "message": message}, htmx)
        if choice == "huge" and len(str(huge)) > 18:
            assert_not_found(response, before)  # no such URL: the id converter takes at most 18 digits
            return
        if user in (world.staff, world.alice.user):
            assert response.status_code == 403
            assert delta(before, counts()) == {}
            return
        if grant is None or grant.organization_id != user.membership.organization_id:
            assert_not_found(response, before)  # another organization's grant is as absent as a missing one
            return
        event("refused" if errors else "done")
        if errors:
            assert_refused(response, htmx, errors, before)
            return
        assert_done(response, htmx, before, {"GrantRequest": 1, "GrantRequestEvent": 1, "Message": 1})
        made = GrantRequest.objects.latest("pk")
        assert (made.kind, made.grant, made.ends_on) == ("extension", grant, grant_date(ends_on))
        assert made.starts_on == (None if live else grant_date(starts_on))


# --- the creator decides: 授权 (with an editable period), 拒绝 (with a reason) ------------------------

DECIDE_CHOICES = st.sampled_from(["pending", "expired", "declined", "extension", "foreign", "absent", "huge"])


def grant_request_url(world: World, name: str, choice: str, huge: int) -> tuple[str, GrantRequest | None]:
    if choice == "absent":
        return reverse(name, args=[absent_pk(GrantRequest)]), None
    if choice == "huge":
        return path_with_id(name, huge), None
    grant_request = world.grant_requests[choice]
    return reverse(name, args=[grant_request.pk]), (None if choice == "foreign" else grant_request)


@fuzz(50)
@given(
    choice=st.one_of(st.sampled_from(["pending", "extension"]), DECIDE_CHOICES),
    huge=HUGE_INTS,
    data=st.data(),
    next_url=NEXT_VALUES,
    extra=EXTRA_FIELDS,
    htmx=HTMX,
)
def test_approve_grant_request_post_refuses_bad_input(client, world, choice, huge, data, next_url, extra, htmx):
    later = world.grants["scheduled"].ends_on + datetime.timedelta(days=1) if choice == "extension" else None
    starts_on, ends_on = data.draw(any_period(later), label="period")
    client.force_login(world.alice.user)
    url, grant_request = grant_request_url(world, "grants:approve_grant_request", choice, huge)
    errors = approve_errors(world, grant_request, starts_on, ends_on) if grant_request is not None else []
    with rolled_back():
        before = counts()
        response = post(client, url, {"starts_on": starts_on, "ends_on": ends_on, "next": next_url, **extra}, htmx)
        if grant_request is None:
            assert_not_found(response, before)
            return
        event("refused" if errors else "done")
        if errors:
            assert_refused(response, htmx, errors, before)
            return
        new_grant = {"Grant": 1} if grant_request.kind == "grant" else {}
        assert_done(response, htmx, before, {**new_grant, "GrantEvent": 1, "GrantRequestEvent": 1, "Message": 1})
        approved = GrantRequest.objects.get(pk=grant_request.pk)
        assert approved.status == "approved"
        assert approved.grant.ends_on == grant_date(ends_on)


def approve_errors(world: World, grant_request: GrantRequest, starts_on: str, ends_on: str) -> list:
    """What approving ``grant_request`` with the posted period must answer, by the spec model."""
    grant = grant_request.grant
    if grant_request.kind == "extension" and status_of(grant) in spec.RENEWABLE_EARLY:
        errors = field_errors(ends_on=ends_on)  # the new end only: the renewal starts tomorrow
    else:
        errors = field_errors(starts_on=starts_on, ends_on=ends_on)
    if errors:
        return errors
    starts, ends = grant_date(starts_on), grant_date(ends_on)
    refusal = spec.decision_refusal("approve", request_status(grant_request))
    if refusal is None and grant_request.kind == "grant":
        pair = [
            status_of(g) for g in Grant.objects.filter(creator=world.alice, organization=grant_request.organization)
        ]
        refusal = spec.authorize_refusal(pair, starts_on=starts, ends_on=ends, today=today())
    elif refusal is None:
        refusal = spec.renew_early_refusal(status_of(grant), current_ends_on=grant.ends_on, ends_on=ends)
    return shown(refusal)


@fuzz(40)
@given(choice=DECIDE_CHOICES, huge=HUGE_INTS, reason=TEXTS, next_url=NEXT_VALUES, extra=EXTRA_FIELDS, htmx=HTMX)
def test_decline_grant_request_post_refuses_bad_input(client, world, choice, huge, reason, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant_request = grant_request_url(world, "grants:decline_grant_request", choice, huge)
    errors = []
    if grant_request is not None:
        errors = text_errors(reason=reason) or shown(spec.decision_refusal("decline", request_status(grant_request)))
    with rolled_back():
        before = counts()
        response = post(client, url, {"reason": reason, "next": next_url, **extra}, htmx)
        if grant_request is None:
            assert_not_found(response, before)
            return
        if errors:
            assert_refused(response, htmx, errors, before)
            return
        assert_done(response, htmx, before, {"GrantRequestEvent": 1, "Message": 1})
        declined = GrantRequest.objects.get(pk=grant_request.pk)
        assert (declined.status, declined.reason) == ("declined", (value_of(reason) or "").strip())


# --- bulk decisions ----------------------------------------------------------------------------------

ACTIONS = st.one_of(st.sampled_from(["approve", "decline", MISSING]), garbage())


def id_values(pool: list[int]) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.one_of(st.sampled_from([str(pk) for pk in pool]), HUGE_INTS.map(str), garbage(), st.just("")),
        max_size=6,
    )


def bulk_messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@fuzz(40)
@given(action=ACTIONS, reason=TEXTS, htmx=st.sampled_from(["plain", "htmx"]), data=st.data())
def test_bulk_grant_request_decisions_apply_only_what_they_may(client, world, action, reason, htmx, data):
    client.force_login(world.alice.user)
    pool = [r.pk for r in world.grant_requests.values()] + [absent_pk(GrantRequest)]
    ids = data.draw(id_values(pool), label="ids")
    decidable = [
        r for r in world.grant_requests.values()
        if str(r.pk) in ids and r.creator == world.alice and request_status(r) == spec.PENDING
    ]  # fmt: skip
    with rolled_back():
        before = counts()
        fields = {"action": action, "reason": reason}
        response = client.post(
            reverse("grants:bulk_grant_requests"),
            {**{k: v for k, v in fields.items() if v != MISSING}, "ids": ids},
            **({"HTTP_HX_REQUEST": "true"} if htmx == "htmx" else {}),
        )
        assert response.status_code == (302 if htmx == "plain" else 200)
        text_of(response)
        if action not in ("approve", "decline") or spec.text_refusal(value_of(reason)):
            assert delta(before, counts()) == {}
            return
        # Each pending request of alice's is decided (the world's proposals are all valid today).
        writes = {"GrantRequestEvent": len(decidable), "Message": len(decidable)}
        if action == "approve":
            writes["GrantEvent"] = len(decidable)
            writes["Grant"] = sum(r.kind == "grant" for r in decidable)
        assert delta(before, counts()) == {name: n for name, n in writes.items() if n}
        expected = "approved" if action == "approve" else "declined"
        assert all(GrantRequest.objects.get(pk=r.pk).status == expected for r in decidable)


@fuzz(30)
@given(action=ACTIONS, reason=TEXTS, data=st.data())
def test_bulk_livestream_decisions_apply_only_what_they_may(client, world, action, reason, data):
    client.force_login(world.alice.user)
    pool = [r.pk for r in world.requests.values()] + [absent_pk(LivestreamAccessRequest)]
    ids = data.draw(id_values(pool), label="ids")
    with rolled_back():
        before = counts()
        fields = {k: v for k, v in {"action": action, "reason": reason}.items() if v != MISSING}
        response = client.post(reverse("grants:bulk_requests"), {**fields, "ids": ids})
        assert response.status_code == 302
        decidable = [
            r for name, r in world.requests.items()
            if str(r.pk) in ids and name != "foreign" and r.status == spec.PENDING
        ]  # fmt: skip
        if action not in ("approve", "decline") or spec.text_refusal(value_of(reason)):
            assert delta(before, counts()) == {}
            return
        writes = {"LivestreamAccessEvent": len(decidable), "Message": 2 * len(decidable)}
        assert delta(before, counts()) == {name: n for name, n in writes.items() if n}
        if decidable:
            assert f"已处理 {len(decidable)} 项" in bulk_messages(response)


@fuzz(25)
@given(data=st.data())
def test_bulk_revoke_revokes_only_live_grants_of_the_creator(client, world, data):
    client.force_login(world.alice.user)
    pool = [g.pk for g in world.grants.values()] + [absent_pk(Grant)]
    ids = data.draw(id_values(pool), label="ids")
    with rolled_back():
        before = counts()
        response = client.post(reverse("grants:bulk_revoke"), {"ids": ids, "action": data.draw(ACTIONS)})
        assert response.status_code == 302
        revocable = [
            g for name, g in world.grants.items()
            if str(g.pk) in ids and name != "foreign" and spec.revoke_refusal(status_of(g)) is None
        ]  # fmt: skip
        writes = {"GrantEvent": len(revocable), "Message": len(revocable)}
        assert delta(before, counts()) == {name: n for name, n in writes.items() if n}


# --- 通知设置 and the inbox -----------------------------------------------------------------------

EMAILS = st.one_of(
    st.sampled_from(["", "me@example.com", " me@example.com ", "a@b", "a@b.c", "@example.com", "me@", "a b@c.d"]),
    st.emails().map(str),
    garbage(),
    st.just(MISSING),
)
CHECKBOX = st.one_of(st.just(MISSING), st.sampled_from(["on", "", "false", "FALSE", "0", "true"]), garbage())


def checked(value: str) -> bool:
    """What a checkbox posted as ``value`` means (HTML: present is on; Django also reads "false")."""
    return value != MISSING and value != "" and value.lower() != "false"


@fuzz(40)
@given(
    email=EMAILS,
    requests_box=CHECKBOX,
    decisions_box=CHECKBOX,
    language=st.one_of(st.sampled_from(["zh-hans", "en", "fr", "", MISSING]), garbage()),
)
def test_settings_post_saves_only_valid_input(client, world, email, requests_box, decisions_box, language):
    user = world.staff
    client.force_login(user)
    with rolled_back():
        before = counts()
        fields = {
            "email": email,
            "email_requests": requests_box,
            "email_decisions": decisions_box,
            "language": language,
        }
        response = post(client, reverse("notifications:settings"), fields)
        assert response.status_code in (302, 422), response.status_code
        user.refresh_from_db()
        if response.status_code == 422:
            assert delta(before, counts()) == {}
            assert user.email == ""
            assert 'class="errorlist' in text_of(response)
            return
        assert language in ("zh-hans", "en")  # anything else is refused
        choices = NotificationSettings.objects.get(user=user)
        assert (choices.email_requests, choices.email_decisions, choices.email_reminders, choices.language) == (
            checked(requests_box), checked(decisions_box), False, language,
        )  # fmt: skip
        assert user.email == (value_of(email) or "").strip()


@fuzz(25)
@given(show=st.one_of(st.just(MISSING), garbage()), page=st.one_of(st.just(MISSING), garbage(), HUGE_INTS.map(str)))
def test_inbox_parameters_never_break_the_page(client, world, show, page):
    client.force_login(world.staff)
    params = {k: v for k, v in {"show": show, "page": page}.items() if v != MISSING and "\x00" not in v}
    response = client.get(reverse("notifications:inbox"), params)
    assert response.status_code == 200
    assert 'id="inbox-list"' in text_of(response)


def test_the_world_has_requests_in_every_state(world):
    assert {name: request_status(r) for name, r in world.grant_requests.items()} == {
        "pending": "pending", "expired": "expired", "declined": "declined", "extension": "pending",
        "foreign": "pending",
    }  # fmt: skip
    assert SHOWN["request_expired"]
