"""Bad input to the single-livestream requests (SPEC §5): unlock requests by a member, and the
creator's decisions on them."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from grants.models import LivestreamAccessRequest
from livestreams.models import Livestream
from tests.model import spec_model as spec

from .generators import HUGE_INTS, NEXT_VALUES, garbage
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
    text_of,
)
from .oracle import SHOWN
from .world import World

pytestmark = pytest.mark.django_db


def stream_url(world: World, choice: str, huge: int) -> str:
    if choice == "absent":
        return reverse("livestreams:unlock", args=[absent_pk(Livestream)])
    if choice == "huge":
        return path_with_id("livestreams:unlock", huge)
    return reverse("livestreams:unlock", args=[world.streams[choice].pk])


@fuzz(30)
@given(
    choice=st.sampled_from(["free", "pending", "approved", "declined", "not_cooperated", "foreign", "absent", "huge"]),
    huge=HUGE_INTS,
    extra=st.dictionaries(st.sampled_from(["organization", "livestream", "status", "requested_by"]), garbage()),
    htmx=st.sampled_from(["plain", "htmx"]),
)
def test_unlock_request_post_refuses_bad_input(client, world, choice, huge, extra, htmx):
    """A sub-account asks to unlock: tampered fields change nothing; a new request only where none is open."""
    client.force_login(world.staff)
    with rolled_back():
        before = counts()
        response = post(client, stream_url(world, choice, huge), extra, htmx)
        if choice in ("not_cooperated", "absent", "huge"):
            assert_not_found(response, before)
            return
        existing = world.requests.get(choice)  # the organization's request for this livestream, if any
        open_status = existing.status if existing is not None and existing.status in spec.OPEN_REQUEST else None
        refusal = spec.request_refusal(open_status)
        if refusal:  # approved: the modules are already open; the service's refusal, with its message
            assert refusal.code == "already_approved"
            assert response.status_code == (422 if htmx == "plain" else 200)
            assert "该直播间数据已授权，无需再次申请。" in text_of(response)
            assert delta(before, counts()) == {}
            return
        opened = open_status is None  # a pending request is returned, nothing new is written
        opened_writes = {"LivestreamAccessRequest": 1, "LivestreamAccessEvent": 1, "Message": 1}  # the creator is told
        assert delta(before, counts()) == (opened_writes if opened else {})
        if htmx == "plain":
            assert response.status_code == 302
            assert is_safe_location(response)
            shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
        else:
            assert response.status_code == 200
            assert "close-dialog" in response.get("HX-Trigger", "")
            shown = text_of(response)
        assert "已提交申请" in shown
        pending = LivestreamAccessRequest.objects.filter(livestream=world.streams[choice], status=spec.PENDING)
        open_request = pending.get()
        assert open_request.organization == world.shop  # the actor's organization, whatever was posted


REQUEST_CHOICES = st.sampled_from(["pending", "approved", "declined", "foreign", "absent", "huge"])


def request_pk(world: World, choice: str, huge: int) -> int:
    if choice == "absent":
        return absent_pk(LivestreamAccessRequest)
    if choice == "huge":
        return huge
    return world.requests[choice].pk


@fuzz(40)
@given(
    action=st.sampled_from(["approve", "revoke"]),
    choice=REQUEST_CHOICES,
    huge=HUGE_INTS,
    next_url=NEXT_VALUES,
    extra=st.dictionaries(st.sampled_from(["status", "organization", "decided_by", "request", "reason"]), garbage()),
    htmx=st.sampled_from(["plain", "htmx"]),
)
def test_request_decisions_refuse_bad_input(client, world, action, choice, huge, next_url, extra, htmx):
    client.force_login(world.alice.user)
    pk = request_pk(world, choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, path_with_id(f"grants:{action}_request", pk), {"next": next_url, **extra}, htmx)
        if choice in ("foreign", "absent", "huge"):
            assert_not_found(response, before)
            return
        refusal = spec.decision_refusal(action, world.requests[choice].status)
        if htmx == "plain":
            assert response.status_code == 302
            assert is_safe_location(response), response["Location"]
            shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
        else:
            assert response.status_code == 200
            shown = text_of(response)
        if refusal is None:
            # The requester (a sub-account) and the main account are told.
            assert delta(before, counts()) == {"LivestreamAccessEvent": 1, "Message": 2}
            assert LivestreamAccessRequest.objects.get(pk=pk).status == spec.DECISIONS[action].to_status
            assert {"approve": "已授权「", "revoke": "已解除「"}[action] in shown
        else:
            assert delta(before, counts()) == {}
            assert SHOWN[refusal.code][1] in shown


@fuzz(40)
@given(
    choice=REQUEST_CHOICES,
    huge=HUGE_INTS,
    reason=st.one_of(st.just(MISSING), garbage(), st.sampled_from(["档期已满", " " * 3, "理" * 200, "理" * 201])),
    next_url=NEXT_VALUES,
    extra=st.dictionaries(st.sampled_from(["status", "organization", "decided_by", "request"]), garbage()),
    htmx=st.sampled_from(["plain", "htmx"]),
)
def test_decline_with_a_reason_refuses_bad_input(client, world, choice, huge, reason, next_url, extra, htmx):
    """拒绝 in its dialog: the reason is checked by the spec model's text rule, then the decision."""
    client.force_login(world.alice.user)
    pk = request_pk(world, choice, huge)
    with rolled_back():
        before = counts()
        fields = {"reason": reason, "next": next_url, **extra}
        response = post(client, path_with_id("grants:decline_request", pk), fields, htmx)
        if choice in ("foreign", "absent", "huge"):
            assert_not_found(response, before)
            return
        text = None if reason == MISSING else reason
        if refusal := spec.text_refusal(text):
            assert_refused(response, htmx, [("reason", None)], before)
            return
        if refusal := spec.decision_refusal("decline", world.requests[choice].status):
            assert_refused(response, htmx, [SHOWN[refusal.code]], before)
            return
        assert_done(response, htmx, before, {"LivestreamAccessEvent": 1, "Message": 2})
        declined = LivestreamAccessRequest.objects.get(pk=pk)
        assert (declined.status, declined.reason) == ("declined", (text or "").strip())
