"""The audit trail (SPEC §4 "Every operation writes an immutable history event", §5 "recorded in the
history", §8 "history read-only", §9 "every request and decision is an immutable history event"):
each state change writes exactly one event per object it changes with the right operation, actor and
period (approving a full-data or extension request changes two: the request and the grant); a
refused call writes nothing; and nothing — model, QuerySet, admin or any URL of the project — edits
or deletes history.
"""

from __future__ import annotations

import contextlib
import datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory
from grants.models import (
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
)
from grants.tests.conftest import TODAY, at_shanghai, d, error_codes
from livestreams.factories import LivestreamFactory
from notifications.models import Message
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from tests.urlmap import all_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(at_shanghai(TODAY), tick=False) as traveller:
        yield traveller


@pytest.fixture
def cast(clock):
    creator = CreatorFactory()
    shop = ShopFactory()
    return SimpleNamespace(
        creator=creator,
        shop=shop,
        main=shop.main_account,
        staff=SubAccountFactory(organization=shop),
        outsider=ShopFactory().main_account,
        stream=LivestreamFactory(creator=creator, cooperating=[shop], minutes=0),
    )


def snapshot() -> dict[str, list[dict]]:
    """Every row of the tables the services write."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (
            Grant, GrantEvent, LivestreamAccessRequest, LivestreamAccessEvent, GrantRequest, GrantRequestEvent,
            Message,
        )
    }  # fmt: skip


def _after(before, model):
    known = [row["id"] for row in before[model.__name__]]
    return list(model.objects.exclude(pk__in=known).order_by("pk"))


def new_events(before: dict[str, list[dict]]) -> tuple[list[GrantEvent], list[LivestreamAccessEvent]]:
    assert _after(before, GrantRequestEvent) == [], "no request event"
    return _after(before, GrantEvent), _after(before, LivestreamAccessEvent)


# --- one event per state change -----------------------------------------------------------------


def _pending(c):
    return services.request_livestream_access(livestream=c.stream, actor=c.staff)


def _approved(c):
    return services.approve_livestream_request(request=_pending(c), actor=c.creator.user)


# name -> (set-up returning the service call, the event expected: operation and period before/after)
GRANT_CASES = {
    "authorize": (
        lambda c: (
            lambda: services.authorize(
                creator=c.creator, organization=c.shop, starts_on=d(1), ends_on=d(10), actor=c.creator.user
            )
        ),
        ("authorize", None, None, d(1), d(10), None),
    ),
    "revoke": (
        lambda c: (lambda g: lambda: services.revoke(grant=g, actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=c.shop)  # d(-10) .. d(30)
        ),
        ("revoke", d(-10), d(30), d(-10), d(30), None),
    ),
    "renew_early": (
        lambda c: (lambda g: lambda: services.renew_early(grant=g, ends_on=d(40), actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=c.shop)
        ),
        # The renewal period starts tomorrow (fixed); starts_on stays.
        ("renew_early", d(-10), d(30), d(-10), d(40), d(1)),
    ),
    "renew": (
        lambda c: (lambda g: lambda: services.renew(grant=g, starts_on=d(0), ends_on=d(5), actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=c.shop, expired=True)
        ),  # d(-40) .. d(-1)
        ("renew", d(-40), d(-1), d(0), d(5), None),
    ),
}
REQUEST_CASES = {
    "request_livestream_access": (
        lambda c: lambda: services.request_livestream_access(livestream=c.stream, actor=c.staff),
        "request",
        "staff",
    ),
    "approve_livestream_request": (
        lambda c: (lambda r: lambda: services.approve_livestream_request(request=r, actor=c.creator.user))(_pending(c)),
        "approve",
        "creator",
    ),
    "decline_livestream_request": (
        lambda c: (
            lambda r: lambda: services.decline_livestream_request(request=r, actor=c.creator.user, reason="不合作")
        )(_pending(c)),
        "decline",
        "creator",
    ),
    "revoke_livestream_access": (
        lambda c: (lambda r: lambda: services.revoke_livestream_access(request=r, actor=c.creator.user))(_approved(c)),
        "revoke",
        "creator",
    ),
}


@pytest.mark.parametrize("name", GRANT_CASES)
def test_grant_operation_writes_one_event_with_actor_and_periods(cast, name):
    set_up, (operation, starts_before, ends_before, starts_after, ends_after, renewal_starts_on) = GRANT_CASES[name]
    call = set_up(cast)
    before = snapshot()
    grant = call()
    grant_events, request_events = new_events(before)
    assert request_events == []
    (event,) = grant_events
    assert (event.grant_id, event.operation, event.actor_id, event.at) == (
        grant.pk,
        operation,
        cast.creator.user.pk,
        timezone.now(),
    )
    assert (event.starts_before, event.ends_before, event.starts_after, event.ends_after) == (
        starts_before,
        ends_before,
        starts_after,
        ends_after,
    )
    assert event.renewal_starts_on == renewal_starts_on
    # Earlier history is untouched: only appended to.
    assert snapshot()["GrantEvent"][: len(before["GrantEvent"])] == before["GrantEvent"]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_operation_writes_one_event_with_actor(cast, name):
    set_up, operation, actor = REQUEST_CASES[name]
    call = set_up(cast)
    before = snapshot()
    request = call()
    grant_events, request_events = new_events(before)
    assert grant_events == []
    (event,) = request_events
    actor = cast.staff if actor == "staff" else cast.creator.user
    assert (event.request_id, event.operation, event.actor_id, event.at) == (
        request.pk,
        operation,
        actor.pk,
        timezone.now(),
    )
    earlier = before["LivestreamAccessEvent"]
    assert snapshot()["LivestreamAccessEvent"][: len(earlier)] == earlier


def _asked(c, **kwargs):
    return services.request_grant(creator=c.creator, starts_on=d(0), ends_on=d(30), actor=c.main, **kwargs)


# name -> (set-up returning the call, the request event expected: operation, actor, period; the grant
# event the call also writes, if any)
GRANT_REQUEST_CASES = {
    "request_grant": (lambda c: lambda: _asked(c), ("request", "main", d(0), d(30)), None),
    "request_extension": (
        lambda c: (lambda g: lambda: services.request_extension(grant=g, ends_on=d(60), actor=c.main))(_grant(c)),
        ("request", "main", None, d(60)),
        None,
    ),
    "approve_grant_request": (
        lambda c: (lambda r: lambda: services.approve_grant_request(request=r, actor=c.creator.user))(_asked(c)),
        ("approve", "creator", d(0), d(30)),
        "authorize",
    ),
    "decline_grant_request": (
        lambda c: (lambda r: lambda: services.decline_grant_request(request=r, actor=c.creator.user, reason="否"))(
            _asked(c)
        ),
        ("decline", "creator", None, None),
        None,
    ),
}


@pytest.mark.parametrize("name", GRANT_REQUEST_CASES)
def test_request_for_full_data_writes_one_event_with_actor_and_period(cast, name):
    set_up, (operation, actor, starts_on, ends_on), grant_operation = GRANT_REQUEST_CASES[name]
    call = set_up(cast)
    before = snapshot()
    result = call()
    (event,) = _after(before, GrantRequestEvent)
    actor = cast.main if actor == "main" else cast.creator.user
    assert (event.operation, event.actor_id, event.at) == (operation, actor.pk, timezone.now())
    assert (event.starts_on, event.ends_on) == (starts_on, ends_on)
    assert _after(before, LivestreamAccessEvent) == []
    grant_events = _after(before, GrantEvent)
    # Approving runs the operation of §4: the grant's own event, written by that operation.
    assert [e.operation for e in grant_events] == ([grant_operation] if grant_operation else [])
    if grant_operation:
        assert (grant_events[0].grant_id, grant_events[0].actor_id) == (result.pk, cast.creator.user.pk)
    earlier = before["GrantRequestEvent"]
    assert snapshot()["GrantRequestEvent"][: len(earlier)] == earlier


def test_closing_an_expired_request_writes_no_event_of_its_own(cast, clock):
    old = _asked(cast)
    clock.shift(datetime.timedelta(days=8))
    before = snapshot()
    services.request_grant(creator=cast.creator, starts_on=d(8), ends_on=d(30), actor=cast.main)
    (event,) = _after(before, GrantRequestEvent)
    assert (event.operation, event.request_id) == ("request", GrantRequest.objects.latest("pk").pk)
    assert GrantRequest.objects.values_list("status", flat=True).get(pk=old.pk) == "expired"


def test_repeated_request_while_pending_writes_nothing(cast):
    first = _pending(cast)
    before = snapshot()
    again = services.request_livestream_access(livestream=cast.stream, actor=cast.main)
    assert again.pk == first.pk
    assert snapshot() == before


# --- a refused call writes nothing ----------------------------------------------------------------


def _grant(c, **traits):
    return GrantFactory(creator=c.creator, organization=c.shop, **traits)


def _declined(c):
    return services.decline_livestream_request(request=_pending(c), actor=c.creator.user)


# name -> set-up returning (call refused for the actor, call refused by a rule, the rule's code)
REFUSALS = {
    "authorize": lambda c: (
        lambda: services.authorize(creator=c.creator, organization=c.shop, starts_on=d(0), ends_on=d(1), actor=c.main),
        lambda: services.authorize(
            creator=c.creator, organization=c.shop, starts_on=d(-1), ends_on=d(1), actor=c.creator.user
        ),
        "starts_in_past",
    ),
    "revoke": lambda c: (
        (lambda g: lambda: services.revoke(grant=g, actor=c.main))(_grant(c)),
        (lambda g: lambda: services.revoke(grant=g, actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=AgencyFactory(), expired=True)
        ),
        "not_revocable",
    ),
    "renew_early": lambda c: (
        (lambda g: lambda: services.renew_early(grant=g, ends_on=d(60), actor=c.main))(_grant(c)),
        (lambda g: lambda: services.renew_early(grant=g, ends_on=g.ends_on, actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=AgencyFactory())
        ),
        "end_not_later",
    ),
    "renew": lambda c: (
        (lambda g: lambda: services.renew(grant=g, starts_on=d(0), ends_on=d(5), actor=c.main))(
            _grant(c, expired=True)
        ),
        (lambda g: lambda: services.renew(grant=g, starts_on=d(0), ends_on=d(5), actor=c.creator.user))(
            GrantFactory(creator=c.creator, organization=AgencyFactory())
        ),
        "not_expired",
    ),
    "request_livestream_access": lambda c: (
        lambda: services.request_livestream_access(livestream=c.stream, actor=c.outsider),
        (lambda _: lambda: services.request_livestream_access(livestream=c.stream, actor=c.staff))(_approved(c)),
        "already_approved",
    ),
    "approve_livestream_request": lambda c: (
        (lambda r: lambda: services.approve_livestream_request(request=r, actor=c.main))(_pending(c)),
        (lambda r: lambda: services.approve_livestream_request(request=r, actor=c.creator.user))(
            services.decline_livestream_request(request=LivestreamAccessRequest.objects.get(), actor=c.creator.user)
        ),
        "not_pending",
    ),
    "decline_livestream_request": lambda c: (
        (lambda r: lambda: services.decline_livestream_request(request=r, actor=c.staff))(_pending(c)),
        (lambda r: lambda: services.decline_livestream_request(request=r, actor=c.creator.user))(
            services.approve_livestream_request(request=LivestreamAccessRequest.objects.get(), actor=c.creator.user)
        ),
        "not_pending",
    ),
    "revoke_livestream_access": lambda c: (
        (lambda r: lambda: services.revoke_livestream_access(request=r, actor=CreatorFactory().user))(_approved(c)),
        (lambda r: lambda: services.revoke_livestream_access(request=r, actor=c.creator.user))(
            services.revoke_livestream_access(request=LivestreamAccessRequest.objects.get(), actor=c.creator.user)
        ),
        "not_approved",
    ),
    "request_grant": lambda c: (
        lambda: services.request_grant(creator=c.creator, starts_on=d(0), ends_on=d(5), actor=c.staff),
        lambda: services.request_grant(creator=c.creator, starts_on=d(0), ends_on=d(366), actor=c.main),
        "period_too_long",
    ),
    "request_extension": lambda c: (
        (lambda g: lambda: services.request_extension(grant=g, ends_on=d(60), actor=c.outsider))(_grant(c)),
        lambda: services.request_extension(grant=Grant.objects.get(), ends_on=d(30), actor=c.main),
        "end_not_later",
    ),
    "approve_grant_request": lambda c: (
        (lambda r: lambda: services.approve_grant_request(request=r, actor=c.main))(_asked(c)),
        lambda: services.approve_grant_request(
            request=GrantRequest.objects.get(), actor=c.creator.user, starts_on=d(-1), ends_on=d(5)
        ),
        "starts_in_past",
    ),
    "decline_grant_request": lambda c: (
        (lambda r: lambda: services.decline_grant_request(request=r, actor=CreatorFactory().user))(_asked(c)),
        lambda: services.decline_grant_request(
            request=GrantRequest.objects.get(), actor=c.creator.user, reason="长" * 201
        ),
        "max_length",
    ),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refused_operation_writes_nothing(cast, name):
    forbidden, broken_rule, code = REFUSALS[name](cast)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        forbidden()
    assert snapshot() == before
    with pytest.raises(ValidationError) as excinfo:
        broken_rule()
    assert error_codes(excinfo.value) == {code}
    assert snapshot() == before


def test_every_service_is_covered():
    names = {"authorize", "revoke", "renew_early", "renew"} | {
        "request_livestream_access",
        "approve_livestream_request",
        "decline_livestream_request",
        "revoke_livestream_access",
    }
    names |= {"request_grant", "request_extension", "approve_grant_request", "decline_grant_request"}
    assert set(GRANT_CASES) | set(REQUEST_CASES) | set(GRANT_REQUEST_CASES) == names
    assert set(REFUSALS) == names
    assert all(callable(getattr(services, name)) for name in names)


# --- history cannot be edited ---------------------------------------------------------------------


@pytest.fixture
def grant_event(cast):
    grant = services.authorize(
        creator=cast.creator, organization=cast.shop, starts_on=d(0), ends_on=d(3), actor=cast.creator.user
    )
    return grant.events.get()


@pytest.fixture
def request_event(cast):
    return _pending(cast).events.get()


@pytest.fixture
def grant_request_event(cast):
    other = CreatorFactory()  # cast's creator may have granted the shop in another fixture
    return services.request_grant(creator=other, starts_on=d(0), ends_on=d(9), actor=cast.main).events.get()


@pytest.fixture(params=["grant_event", "request_event", "grant_request_event"])
def event(request):
    return request.getfixturevalue(request.param)


def test_event_refuses_save_after_create(event):
    before = snapshot()
    event.operation = "revoke" if event.operation != "revoke" else "authorize"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.save(update_fields=["operation"])
    assert snapshot() == before


def test_event_refuses_delete(event):
    before = snapshot()
    with pytest.raises(PermissionError):
        event.delete()
    assert snapshot() == before


def test_event_queryset_refuses_update_and_delete(event):
    model = type(event)
    before = snapshot()
    for attempt in (
        lambda: model.objects.update(operation="revoke"),
        lambda: model.objects.filter(pk=event.pk).update(at=timezone.now() - datetime.timedelta(days=1)),
        lambda: model.objects.all().delete(),
        lambda: model.objects.filter(pk=event.pk).delete(),
        lambda: model.objects.bulk_update([event], ["operation"]),
    ):
        # Each attempt in its own savepoint: bulk_update fails inside an atomic block of its own.
        with pytest.raises(PermissionError), transaction.atomic():
            attempt()
    assert snapshot() == before


def test_related_manager_refuses_update_and_delete(grant_event, request_event, grant_request_event):
    before = snapshot()
    for related in (grant_event.grant.events, request_event.request.events, grant_request_event.request.events):
        with pytest.raises(PermissionError):
            related.update(operation="revoke")
        with pytest.raises(PermissionError):
            related.all().delete()
    assert snapshot() == before


def test_deleting_the_grant_or_request_does_not_take_its_history(grant_event, request_event, grant_request_event):
    before = snapshot()
    with pytest.raises(ProtectedError):
        grant_event.grant.delete()
    with pytest.raises(ProtectedError):
        request_event.request.delete()
    with pytest.raises(ProtectedError):
        grant_request_event.request.delete()
    assert snapshot() == before


def test_event_cannot_be_overwritten_by_a_new_instance_with_its_pk(grant_event):
    before = snapshot()
    forged = GrantEvent(
        pk=grant_event.pk, grant=grant_event.grant, operation=GrantEvent.Operation.REVOKE, actor=grant_event.actor
    )
    # Any refusal will do (an error in its own savepoint); the assertion is that nothing changed.
    with contextlib.suppress(Exception), transaction.atomic():
        forged.save()
    assert snapshot()["GrantEvent"] == before["GrantEvent"]


# --- the admin offers no way to edit history ------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _admin_cannot_edit(staff_client, event, data):
    opts = type(event)._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    before = snapshot()
    assert staff_client.get(reverse(f"{name}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"{name}_add")).status_code == 403
    assert staff_client.post(reverse(f"{name}_add"), data).status_code == 403
    assert staff_client.post(reverse(f"{name}_change", args=[event.pk]), data).status_code == 403
    assert staff_client.post(reverse(f"{name}_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    # The bulk "delete selected" action is not offered either.
    staff_client.post(
        reverse(f"{name}_changelist"), {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert snapshot() == before


def test_admin_cannot_add_change_or_delete_grant_events(staff_client, grant_event):
    _admin_cannot_edit(staff_client, grant_event, {"operation": "revoke", "actor": grant_event.actor_id})


def test_admin_shows_livestream_request_history_read_only(staff_client, request_event):
    _admin_cannot_edit(staff_client, request_event, {"operation": "approve", "actor": request_event.actor_id})


def test_admin_shows_full_data_request_history_read_only(staff_client, grant_request_event):
    _admin_cannot_edit(
        staff_client, grant_request_event, {"operation": "decline", "actor": grant_request_event.actor_id}
    )


# --- no URL of the project edits history ----------------------------------------------------------


@pytest.fixture
def portal_world(cast):
    """A creator with live, expired and revoked grants and requests in every status."""
    agency = AgencyFactory()
    live = GrantFactory(creator=cast.creator, organization=cast.shop)
    GrantFactory(creator=cast.creator, organization=agency, expired=True)
    GrantFactory(creator=cast.creator, organization=ShopFactory(), revoked=True)
    second = LivestreamFactory(creator=cast.creator, cooperating=[cast.shop], minutes=0)
    pending = services.request_livestream_access(livestream=second, actor=cast.main)
    approved = _approved(cast)
    # No request yet: unlocking it as a member appends a "request" event.
    fresh = LivestreamFactory(creator=cast.creator, cooperating=[cast.shop], minutes=0)
    extension = services.request_extension(grant=live, ends_on=d(90), actor=cast.main)
    message = Message.objects.filter(recipient=cast.main).latest("pk")
    return SimpleNamespace(
        cast=cast, grant=live, pending=pending, approved=approved, stream=fresh, grant_request=extension,
        message=message,
    )  # fmt: skip


def _history() -> dict[str, list[dict]]:
    return {name: rows for name, rows in snapshot().items() if name.endswith("Event")}


@pytest.mark.parametrize("who", ["creator", "main", "staff"])
def test_posting_to_every_route_only_appends_to_history(client, portal_world, who):
    c = portal_world.cast
    user = c.creator.user if who == "creator" else getattr(c, who)
    ids = {
        "grant_id": portal_world.grant.pk,
        "creator_id": c.creator.pk,
        "livestream_id": portal_world.stream.pk,
        "grant_request_id": portal_world.grant_request.pk,
        "message_id": portal_world.message.pk,
    }
    data = {
        "organization": c.shop.pk,
        "starts_on": d(0).isoformat(),
        "ends_on": d(90).isoformat(),
        "creator": c.creator.pk,
        "language": "en",
        "ids": [portal_world.pending.pk, portal_world.grant_request.pk, portal_world.grant.pk],
        "action": "decline",
        "reason": "审计",
        "email": "audit@example.com",
    }
    routes = all_routes()
    assert routes
    for route in routes:
        for request_id in (portal_world.pending.pk, portal_world.approved.pk):
            before = _history()
            client.force_login(user)
            kwargs = {param: ids.get(param, request_id) for param in route.params}
            response = client.post(reverse(route.name, kwargs=kwargs), data)
            assert response.status_code < 500, f"POST {route.name}: {response.status_code}"
            after = _history()
            for name, rows in before.items():
                assert after[name][: len(rows)] == rows, f"POST {route.name} as {who} changed {name} rows"
            if "request_id" not in route.params:
                break
