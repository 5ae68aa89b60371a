"""Stateful model test: random sequences of the services and of the clock, checked after every step
against the plain-Python model of SPEC §4–§5, §9 and §12 in ``spec_model.py``.

SPEC §12: grants are authorized with a scope and change scope; main accounts delegate them to
their sub-accounts and end delegations; creators forbid and allow delegation; a sub-account moves
to another organization. ``creator_access(user, creator).parts`` is compared with the model's
``creator_parts`` like the other access decisions.

After each step: every grant (its fields, ``Grant.status``, the ``with_status()`` annotation, the
guards, days left, "latest per pair"; the status counts every fourth step) and every livestream
request equal the model's; ``can_view_creator_data`` and ``can_view_livestream_modules`` agree with
the model for every (user, creator/livestream) pair whose answer just changed, plus a rotating slice
of all 56 pairs (see ``_check_access``; ``MODEL_FULL_ACCESS=1`` checks all of them after every step,
as the replay test does). Each operation's outcome is predicted by the model:
a refusal must be the same (``PermissionDenied``, or a ``ValidationError`` with the same code) and
write nothing; a success writes exactly one history event per object it changes (a repeated request
while one is pending writes nothing and returns the pending one; approving a full-data or extension
request writes the request's event and the grant's) and one message to each user SPEC §10 names.
Requests expire 7 days after they were made: the clock also jumps by a week, to either side of it.

The cast is created once per test; each Hypothesis example runs inside a savepoint that its teardown
rolls back, so every example starts with no grants and no requests. ``MODEL_EXAMPLES`` lowers the
number of examples for a quick local run (default 200, of up to 30 steps each).
"""

from __future__ import annotations

import datetime
import os
from collections import Counter
from dataclasses import dataclass

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from grants import access, services
from grants.models import (
    Delegation,
    DelegationEvent,
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
)
from grants.tests.conftest import error_codes
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from notifications.models import Message
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from portal.models import Creator, Membership, Organization, User

from . import spec_model as spec

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "200"))
MODEL_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    # The same examples on every run: the coverage check below (MUST_HAPPEN) cannot pass or fail by
    # luck. One CI run reached forbid_delegation in none of 200 random examples (2026-12-06); the
    # price is that a run no longer explores new sequences (MODEL_EXAMPLES raises the count).
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

START_DAY = datetime.date(2026, 11, 28)

# --- the cast ---------------------------------------------------------------------------------

CREATORS = ("creator1", "creator2")
ORGANIZATIONS = ("shop1", "shop2", "agency")
# Livestream -> (its creator, the organizations that cooperated in it).
STREAMS = {
    "c1-a": ("creator1", ("shop1", "agency")),
    "c1-b": ("creator1", ("shop2",)),
    "c1-c": ("creator1", ()),
    "c2-a": ("creator2", ("shop1", "shop2")),
    "c2-b": ("creator2", ("agency",)),
}
USERS = (*CREATORS, *(f"{org}.{role}" for org in ORGANIZATIONS for role in ("main", "sub")))

CREATOR_DATA, MODULES, PARTS = "can_view_creator_data", "can_view_livestream_modules", "creator_access.parts"
ACCESS_PAIRS = (
    [(CREATOR_DATA, user, creator) for user in USERS for creator in CREATORS]
    + [(MODULES, user, livestream) for user in USERS for livestream in STREAMS]
    + [(PARTS, user, creator) for user in USERS for creator in CREATORS]
)
# Scopes drawn for authorize / change_scope / delegate (SPEC §12): None (all, or the grant's),
# single parts, pairs, all four, and none (refused: empty_scope).
SCOPES = st.one_of(
    st.none(),
    st.sampled_from(
        [(), ("overview",), ("modules",), ("overview", "livestreams"), ("products", "modules"), spec.PARTS]
    ),
    st.frozensets(st.sampled_from(spec.PARTS), min_size=1),
).map(lambda scope: None if scope is None else frozenset(scope))
SUB = "<sub>"  # a sub-account of the grant's organization
FULL_ACCESS = os.environ.get("MODEL_FULL_ACCESS") == "1"
ROTATION = 3  # access pairs checked per step besides the changed ones

# An actor drawn from these is usually the one who may act, sometimes anyone of the cast.
OWNER = "<owner>"  # the creator who owns the grant / the livestream
MEMBER = "<member>"  # a member (main or sub) of an organization that cooperated in the livestream
MAIN = "<main>"  # the main account of the organization that asks (or whose grant it is)
owner_or_anyone = st.sampled_from((OWNER, OWNER, OWNER, *USERS))
member_or_anyone = st.sampled_from((MEMBER, MEMBER, *USERS))
main_or_anyone = st.sampled_from((*[MAIN] * 8, *USERS))
owner_mostly = st.sampled_from((*[OWNER] * 8, *USERS))
# Messages and reasons: none, short, and around the 200-character limit (trimmed first).
texts = st.one_of(
    st.none(),
    st.sampled_from(["", "好的", "  留言  ", "x" * 200, " " + "y" * 200 + " ", "z" * 201]),
)
# Period lengths in days (ends_on - starts_on): mostly short, and around the 366-day limit.
lengths = st.one_of(st.integers(-2, 10), st.sampled_from([364, 365, 366]))


@dataclass
class World:
    spec: spec.Cast
    users: dict[str, User]  # the actors passed to the services
    plain_users: dict[str, User]  # never touched: the access checks take their query path
    loaded_users: dict[str, User]  # creator/membership already loaded: the no-query path
    creators: dict[str, Creator]
    organizations: dict[str, Organization]
    livestreams: dict[str, Livestream]
    mover: User | None = None  # a staff member who gives livestreams to another creator (issue 12)

    def reload(self, name: str) -> None:
        """A user whose membership changed: fresh instances (a request loads its user afresh)."""
        pk = self.user_pk[name]
        self.users[name] = User.objects.get(pk=pk)
        self.plain_users[name] = User.objects.get(pk=pk)
        self.loaded_users[name] = User.objects.select_related("creator", "membership").get(pk=pk)

    def __post_init__(self):
        self.creator_pk = {name: c.pk for name, c in self.creators.items()}
        self.organization_pk = {name: o.pk for name, o in self.organizations.items()}
        self.livestream_pk = {name: ls.pk for name, ls in self.livestreams.items()}
        self.user_pk = {name: u.pk for name, u in self.users.items()}


def build_world() -> World:
    creators = {name: CreatorFactory() for name in CREATORS}
    organizations = {"shop1": ShopFactory(), "shop2": ShopFactory(), "agency": AgencyFactory()}
    user_pks = {name: creators[name].user_id for name in CREATORS}
    people = {name: spec.Person(name, creator=name) for name in CREATORS}
    for org_name, org in organizations.items():
        user_pks[f"{org_name}.main"] = org.main_account.pk
        user_pks[f"{org_name}.sub"] = SubAccountFactory(organization=org).pk
        for role in ("main", "sub"):
            name = f"{org_name}.{role}"
            people[name] = spec.Person(name, organization=org_name, main=role == "main")
    livestreams = {
        name: LivestreamFactory(creator=creators[c], cooperating=[organizations[o] for o in coop], minutes=0)
        for name, (c, coop) in STREAMS.items()
    }
    cast = spec.Cast(
        users=people,
        creators={name: name for name in CREATORS},  # a creator's user has the creator's name
        organizations=ORGANIZATIONS,
        livestreams={
            name: spec.Stream(name, creator=c, cooperating=frozenset(coop)) for name, (c, coop) in STREAMS.items()
        },
    )
    return World(
        spec=cast,
        users={name: User.objects.get(pk=pk) for name, pk in user_pks.items()},
        plain_users={name: User.objects.get(pk=pk) for name, pk in user_pks.items()},
        loaded_users={
            name: User.objects.select_related("creator", "membership").get(pk=pk) for name, pk in user_pks.items()
        },
        creators={name: Creator.objects.get(pk=c.pk) for name, c in creators.items()},
        organizations=organizations,
        livestreams={name: Livestream.objects.get(pk=ls.pk) for name, ls in livestreams.items()},
        mover=UserFactory(is_staff=True),
    )


@pytest.fixture
def world(db):
    return build_world()


# --- the machine ------------------------------------------------------------------------------

# What the examples did, over a whole run: (kind of object, outcome). The test asserts that the
# outcomes that matter occurred, so a strategy that stopped reaching them would fail the test.
OUTCOMES: Counter = Counter()


def shanghai(day: datetime.date, time: datetime.time = datetime.time(0)) -> datetime.datetime:
    return datetime.datetime.combine(day, time, tzinfo=spec.PLATFORM_TZ)


TABLES = {
    "grants": Grant._meta.db_table,
    "grant_events": GrantEvent._meta.db_table,
    "requests": LivestreamAccessRequest._meta.db_table,
    "request_events": LivestreamAccessEvent._meta.db_table,
    "grant_requests": GrantRequest._meta.db_table,
    "grant_request_events": GrantRequestEvent._meta.db_table,
    "messages": Message._meta.db_table,
    "delegations": Delegation._meta.db_table,
    "delegation_events": DelegationEvent._meta.db_table,
}
# The tables (rows, history) of each kind of object an operation acts on.
KINDS = {
    "grant": ("grants", "grant_events", GrantEvent, "grant_id"),
    "request": ("requests", "request_events", LivestreamAccessEvent, "request_id"),
    "grant_request": ("grant_requests", "grant_request_events", GrantRequestEvent, "request_id"),
    "delegation": ("delegations", "delegation_events", DelegationEvent, "delegation_id"),
}


class PortalMachine(RuleBasedStateMachine):
    def __init__(self, world: World):
        super().__init__()
        self.world = world
        # Everything an example writes is rolled back by teardown(): the next one starts clean.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        start = shanghai(START_DAY)  # start_clock() moves on to the example's time of day
        self._traveller = time_machine.travel(start, tick=False)
        self._clock = self._traveller.start()
        self.model = spec.SpecModel(world.spec, start)
        self.checks = 0
        self.rotation = 0
        self.full_access = FULL_ACCESS
        self._last_access = self._expected_access()
        self._moved: set[str] = set()
        self._moved_members: set[str] = set()

    def teardown(self):
        OUTCOMES["closed an expired request and made a new one"] += self.model.closed_expired
        self._traveller.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        for name in self._moved:  # the writer moved the world's instance too: back to the rolled-back row
            self.world.livestreams[name].refresh_from_db(fields=["creator", "updated_at"])
        for name in self._moved_members:  # the users' loaded memberships: back to the rolled-back rows
            self.world.reload(name)

    # --- the clock ----------------------------------------------------------------------------
    def _move(self, now: datetime.datetime) -> None:
        self._clock.move_to(now)
        self.model.move_to(now)

    @initialize(
        hour=st.integers(0, 23),
        minute=st.sampled_from((0, 1, 30, 59)),
        rotation=st.integers(0, len(ACCESS_PAIRS) - 1),
    )
    def start_clock(self, hour, minute, rotation=0):
        self.rotation = rotation  # where the rotating access checks start
        # Before 08:00 in Shanghai it is still the previous day in UTC: "today" must not follow UTC.
        self._move(shanghai(START_DAY, datetime.time(hour, minute)))

    @rule(days=st.integers(0, 6), hours=st.integers(0, 23))
    def advance(self, days, hours):
        self._move(self.model.now + datetime.timedelta(days=days, hours=hours))

    @rule(minutes=st.sampled_from((-1, 0, 1, 90)))
    def a_week_later(self, minutes):
        """7 days on, give or take: a request made a week ago is still pending at exactly 7 days,
        expired a minute later (SPEC §9)."""
        self._move(self.model.now + datetime.timedelta(days=7, minutes=minutes))

    @rule()
    def last_instant_of_the_day(self):
        """23:59:59.999999 in Shanghai: still the same day, the last instant of access on ``ends_on``."""
        self._move(max(self.model.now, shanghai(self.model.today, datetime.time(23, 59, 59, 999999))))

    @rule()
    def next_midnight(self):
        """00:00:00 of the next day in Shanghai (16:00 UTC): a new "today"."""
        self._move(shanghai(self.model.today + datetime.timedelta(days=1)))

    # --- running an operation against the model -----------------------------------------------
    def _counts(self) -> dict[str, int]:
        quote = connection.ops.quote_name
        # One query for the four counts; the table names come from the models' _meta.
        sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in TABLES.values())  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return dict(zip(TABLES, cursor.fetchone(), strict=True))

    def _run(self, expected: spec.Outcome, call, *, kind: str, actor: str):
        OUTCOMES[kind, str(expected)] += 1
        before = self._counts()
        try:
            result = call()
        except PermissionDenied:
            actual = spec.Forbidden()
        except ValidationError as error:
            codes = error_codes(error)
            assert len(codes) == 1, f"expected {expected}, got codes {codes}"
            actual = spec.Refused(codes.pop())
        else:
            actual = result
        after = self._counts()
        context = f"at {timezone.localtime():%Y-%m-%d %H:%M:%S.%f}"
        if not isinstance(expected, spec.Done):
            assert actual == expected, f"expected {expected}, got {actual!r} ({context})"
            assert after == before, f"a refused operation wrote {before} -> {after}"
            return
        assert not isinstance(actual, spec.Forbidden | spec.Refused), f"expected {expected}, got {actual} ({context})"
        rows, events, history, subject = KINDS[kind]
        wanted = dict(before)
        wanted[rows] += int(expected.new_row)
        wanted[events] += int(expected.event is not None)
        for table, count in expected.extra:
            wanted[table] += count
        wanted["messages"] += len(expected.notified)
        assert after == wanted, f"{expected}: expected {wanted}, got {after}"
        if expected.returns is not None:
            assert result.pk == expected.returns, "the pending request is returned"
        if expected.event is not None:
            newest = history.objects.order_by("-pk").values_list("operation", "actor_id", subject)[0]
            subject_pk = newest[2] if kind == "grant_request" and isinstance(result, Grant) else result.pk
            assert newest == (expected.event, self.world.user_pk[actor], subject_pk)
        if expected.notified:
            told = Message.objects.order_by("-pk").values_list("recipient_id", flat=True)[: len(expected.notified)]
            assert set(told) == {self.world.user_pk[name] for name in expected.notified}, "who is told (SPEC §10)"
        expected.apply(result.pk)

    def _day(self, offset: int) -> datetime.date:
        return self.model.today + datetime.timedelta(days=offset)

    def _grant(self, index: int) -> tuple[int, Grant]:
        ids = list(self.model.grants)
        grant_id = ids[index % len(ids)]
        return grant_id, Grant.objects.select_related("creator").get(pk=grant_id)

    def _grant_actor(self, actor: str, grant_id: int) -> str:
        return self.model.grants[grant_id].creator if actor == OWNER else actor

    def _request(self, index: int) -> tuple[int, LivestreamAccessRequest]:
        ids = list(self.model.requests)
        request_id = ids[index % len(ids)]
        return request_id, LivestreamAccessRequest.objects.get(pk=request_id)

    def _grant_request(self, index: int) -> tuple[int, GrantRequest]:
        ids = list(self.model.grant_requests)
        request_id = ids[index % len(ids)]
        return request_id, GrantRequest.objects.get(pk=request_id)

    # --- full-data grants ---------------------------------------------------------------------
    @rule(
        creator=st.sampled_from(CREATORS),
        actor=owner_or_anyone,
        organization=st.sampled_from(ORGANIZATIONS),
        start=st.integers(-3, 10),
        length=st.integers(-2, 10),
        scope=SCOPES,
    )
    def authorize(self, creator, actor, organization, start, length, scope=None):
        actor = creator if actor == OWNER else actor
        starts_on = self._day(start)
        ends_on = starts_on + datetime.timedelta(days=length)
        w = self.world
        given = {} if scope is None else {"scope": scope}
        self._run(
            self.model.authorize(
                actor=actor,
                creator=creator,
                organization=organization,
                starts_on=starts_on,
                ends_on=ends_on,
                scope=scope,
            ),
            lambda: services.authorize(
                creator=w.creators[creator],
                organization=w.organizations[organization],
                starts_on=starts_on,
                ends_on=ends_on,
                actor=w.users[actor],
                **given,
            ),  # fmt: skip
            kind="grant",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone)
    def revoke(self, index, actor):
        grant_id, grant = self._grant(index)
        actor = self._grant_actor(actor, grant_id)
        self._run(
            self.model.revoke(actor=actor, grant_id=grant_id),
            lambda: services.revoke(grant=grant, actor=self.world.users[actor]),
            kind="grant",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone, extra_days=st.integers(-2, 8))
    def renew_early(self, index, actor, extra_days):
        grant_id, grant = self._grant(index)
        actor = self._grant_actor(actor, grant_id)
        ends_on = self.model.grants[grant_id].ends_on + datetime.timedelta(days=extra_days)
        self._run(
            self.model.renew_early(actor=actor, grant_id=grant_id, ends_on=ends_on),
            lambda: services.renew_early(grant=grant, ends_on=ends_on, actor=self.world.users[actor]),
            kind="grant",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone, start=st.integers(-3, 10), length=st.integers(-2, 10))
    def renew(self, index, actor, start, length):
        grant_id, grant = self._grant(index)
        actor = self._grant_actor(actor, grant_id)
        starts_on = self._day(start)
        ends_on = starts_on + datetime.timedelta(days=length)
        self._run(
            self.model.renew(actor=actor, grant_id=grant_id, starts_on=starts_on, ends_on=ends_on),
            lambda: services.renew(grant=grant, starts_on=starts_on, ends_on=ends_on, actor=self.world.users[actor]),
            kind="grant",
            actor=actor,
        )

    # --- single-livestream requests ------------------------------------------------------------
    @rule(livestream=st.sampled_from(tuple(STREAMS)), actor=member_or_anyone, pick=st.integers(0, 7))
    def request(self, livestream, actor, pick):
        if actor == MEMBER:
            members = [m for org in sorted(STREAMS[livestream][1]) for m in self.world.spec.members(org)]
            actor = members[pick % len(members)] if members else USERS[pick % len(USERS)]
        self._run(
            self.model.request(actor=actor, livestream=livestream),
            lambda: services.request_livestream_access(
                livestream=self.world.livestreams[livestream], actor=self.world.users[actor]
            ),
            kind="request",
            actor=actor,
        )

    def _decide(self, index, actor, predict, service, **extra):
        request_id, request = self._request(index)
        if actor == OWNER:
            actor = self.model.creator_of(self.model.requests[request_id].livestream)
        given = {key: value for key, value in extra.items() if value is not None}
        self._run(
            predict(actor=actor, request_id=request_id, **extra),
            lambda: service(request=request, actor=self.world.users[actor], **given),
            kind="request",
            actor=actor,
        )

    @precondition(lambda self: self.model.requests)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone)
    def approve(self, index, actor):
        self._decide(index, actor, self.model.approve, services.approve_livestream_request)

    @precondition(lambda self: self.model.requests)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone, reason=texts)
    def decline(self, index, actor, reason):
        self._decide(index, actor, self.model.decline, services.decline_livestream_request, reason=reason)

    @precondition(lambda self: self.model.requests)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone)
    def revoke_access(self, index, actor):
        self._decide(index, actor, self.model.revoke_access, services.revoke_livestream_access)

    # --- a livestream changes creator (issue 12: an import or staff; nobody's rights are checked) --
    @rule(livestream=st.sampled_from(tuple(STREAMS)), creator=st.sampled_from(CREATORS), by_staff=st.booleans())
    def move_livestream(self, livestream, creator, by_staff):
        actor = self.world.mover if by_staff else None
        before = self._counts()
        ended = self.model.move(livestream=livestream, creator=creator)
        self._moved.add(livestream)
        writes.move_livestream(
            livestream=self.world.livestreams[livestream], creator=self.world.creators[creator], actor=actor
        )
        told = sum(len(self.model.told_of_ended(pk)) for pk in ended)  # SPEC §10: the requester and the main account
        assert self._counts() == {
            **before,
            "request_events": before["request_events"] + len(ended),
            "messages": before["messages"] + told,
        }
        newest = LivestreamAccessEvent.objects.order_by("-pk").values_list("operation", "actor_id", "request_id")
        assert sorted(newest[: len(ended)]) == sorted(("end", actor and actor.pk, pk) for pk in ended)

    # --- full-data and extension requests (SPEC §9) ------------------------------------------------
    @rule(
        creator=st.sampled_from(CREATORS),
        organization=st.sampled_from(ORGANIZATIONS),
        actor=main_or_anyone,
        start=st.integers(-2, 10),
        length=lengths,
        message=texts,
    )
    def request_grant(self, creator, organization, actor, start, length, message):
        actor = f"{organization}.main" if actor == MAIN else actor
        starts_on = self._day(start)
        ends_on = starts_on + datetime.timedelta(days=length)
        given = {} if message is None else {"message": message}
        w = self.world
        self._run(
            self.model.request_grant(
                actor=actor, creator=creator, starts_on=starts_on, ends_on=ends_on, message=message
            ),
            lambda: services.request_grant(
                creator=w.creators[creator], starts_on=starts_on, ends_on=ends_on, actor=w.users[actor], **given
            ),
            kind="grant_request",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(
        index=st.integers(0, 30),
        actor=main_or_anyone,
        extra_days=st.one_of(st.integers(-2, 8), st.sampled_from([366, 367])),
        start=st.one_of(st.none(), st.integers(-2, 10)),
        length=lengths,
        message=texts,
    )
    def request_extension(self, index, actor, extra_days, start, length, message):
        grant_id, grant = self._grant(index)
        row = self.model.grants[grant_id]
        actor = f"{row.organization}.main" if actor == MAIN else actor
        if self.model.status(grant_id) == spec.EXPIRED:  # a new period
            starts_on = None if start is None else self._day(start)
            ends_on = (starts_on or self.model.today) + datetime.timedelta(days=length)
        else:  # a new end
            starts_on, ends_on = None, row.ends_on + datetime.timedelta(days=extra_days)
        given = {key: value for key, value in (("starts_on", starts_on), ("message", message)) if value is not None}
        self._run(
            self.model.request_extension(
                actor=actor, grant_id=grant_id, ends_on=ends_on, starts_on=starts_on, message=message
            ),
            lambda: services.request_extension(grant=grant, ends_on=ends_on, actor=self.world.users[actor], **given),
            kind="grant_request",
            actor=actor,
        )

    def _grant_request_actor(self, actor: str, request_id: int) -> str:
        return self.model.grant_requests[request_id].creator if actor == OWNER else actor

    @precondition(lambda self: self.model.grant_requests)
    @rule(
        index=st.integers(0, 30),
        actor=owner_mostly,
        edit=st.booleans(),
        start=st.integers(-2, 10),
        length=st.integers(-2, 40),
    )
    def approve_grant_request(self, index, actor, edit, start, length):
        request_id, grant_request = self._grant_request(index)
        actor = self._grant_request_actor(actor, request_id)
        period = {}
        if edit:  # the creator edits the proposed period before approving
            period = {"starts_on": self._day(start), "ends_on": self._day(start + length)}
        self._run(
            self.model.approve_grant_request(actor=actor, request_id=request_id, **period),
            lambda: services.approve_grant_request(request=grant_request, actor=self.world.users[actor], **period),
            kind="grant_request",
            actor=actor,
        )

    @precondition(lambda self: self.model.grant_requests)
    @rule(index=st.integers(0, 30), actor=owner_mostly, reason=texts)
    def decline_grant_request(self, index, actor, reason):
        request_id, grant_request = self._grant_request(index)
        actor = self._grant_request_actor(actor, request_id)
        given = {} if reason is None else {"reason": reason}
        self._run(
            self.model.decline_grant_request(actor=actor, request_id=request_id, reason=reason),
            lambda: services.decline_grant_request(request=grant_request, actor=self.world.users[actor], **given),
            kind="grant_request",
            actor=actor,
        )

    # --- scopes and delegation (SPEC §12) ----------------------------------------------------------
    @precondition(lambda self: self.model.grants)
    @rule(index=st.integers(0, 30), actor=owner_or_anyone, scope=SCOPES.filter(lambda s: s is not None))
    def change_scope(self, index, actor, scope):
        grant_id, grant = self._grant(index)
        actor = self._grant_actor(actor, grant_id)
        self._run(
            self.model.change_scope(actor=actor, grant_id=grant_id, scope=scope),
            lambda: services.change_scope(grant=grant, scope=scope, actor=self.world.users[actor]),
            kind="grant",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(
        index=st.integers(0, 30),
        live=st.integers(0, 3).map(bool),
        actor=st.sampled_from((*[MAIN] * 20, *USERS)),
        sub=st.sampled_from((*[SUB] * 12, *USERS)),
        end=st.integers(-3, 1),
        scope=SCOPES,
    )
    def delegate(self, index, live, actor, sub, end, scope):
        """Mostly a live grant, by its own main account, to one of its sub-accounts, with an end near
        the grant's (the rules are exercised on the way: refusals of each kind still occur)."""
        live_ids = [pk for pk in self.model.grants if self.model.status(pk) in (spec.SCHEDULED, spec.ACTIVE)]
        if live and live_ids:
            grant_id = live_ids[index % len(live_ids)]
            grant = Grant.objects.select_related("creator").get(pk=grant_id)
        else:
            grant_id, grant = self._grant(index)
        row = self.model.grants[grant_id]
        actor = f"{row.organization}.main" if actor == MAIN else actor
        sub = f"{row.organization}.sub" if sub == SUB else sub
        ends_on = row.ends_on + datetime.timedelta(days=end)
        given = {} if scope is None else {"scope": scope}
        w = self.world
        self._run(
            self.model.delegate(actor=actor, grant_id=grant_id, sub_account=sub, ends_on=ends_on, scope=scope),
            lambda: services.delegate(
                grant=grant, sub_account=w.users[sub], ends_on=ends_on, actor=w.users[actor], **given
            ),
            kind="delegation",
            actor=actor,
        )

    @rule(
        creator=st.sampled_from(CREATORS),
        organization=st.sampled_from(ORGANIZATIONS),
        start=st.integers(0, 2),
        length=st.integers(0, 8),
        end=st.integers(-8, 0),
        scope=SCOPES,
        delegated=SCOPES,
    )
    def authorize_and_delegate(self, creator, organization, start, length, end, scope, delegated):
        """The creator authorizes (with a scope), and the main account at once delegates the grant
        to its sub-account (to a sub-account that moved away: not_a_sub_account), so that most
        examples hold delegations that the other rules then revoke, expire, narrow, forbid or end."""
        before = set(self.model.grants)
        self.authorize(creator=creator, actor=OWNER, organization=organization, start=start, length=length, scope=scope)
        made = set(self.model.grants) - before
        if not made:
            return
        (grant_id,) = made
        live_index = list(self.model.grants).index(grant_id)
        self.delegate(index=live_index, live=False, actor=MAIN, sub=SUB, end=max(end, -length), scope=delegated)

    @precondition(lambda self: self.model.delegations)
    @rule(index=st.integers(0, 30), actor=main_or_anyone)
    def end_delegation(self, index, actor):
        ids = list(self.model.delegations)
        delegation_id = ids[index % len(ids)]
        row = self.model.delegations[delegation_id]
        actor = f"{self.model.grants[row.grant_id].organization}.main" if actor == MAIN else actor
        delegation = Delegation.objects.select_related("grant").get(pk=delegation_id)
        self._run(
            self.model.end_delegation(actor=actor, delegation_id=delegation_id),
            lambda: services.end_delegation(delegation=delegation, actor=self.world.users[actor]),
            kind="delegation",
            actor=actor,
        )

    @precondition(lambda self: self.model.grants)
    @rule(index=st.integers(0, 30), actor=owner_mostly, allowed=st.sampled_from((True, True, False)))
    def set_delegation_allowed(self, index, actor, allowed):
        grant_id, grant = self._grant(index)
        actor = self._grant_actor(actor, grant_id)
        self._run(
            self.model.set_delegation_allowed(actor=actor, grant_id=grant_id, allowed=allowed),
            lambda: services.set_delegation_allowed(grant=grant, allowed=allowed, actor=self.world.users[actor]),
            kind="grant",
            actor=actor,
        )

    @rule(user=st.sampled_from([f"{org}.sub" for org in ORGANIZATIONS]), organization=st.sampled_from(ORGANIZATIONS))
    def move_sub_account(self, user, organization):
        """Staff move a sub-account to another organization (or back): its delegations stop at once."""
        self.model.move_sub_account(user=user, organization=organization)
        Membership.objects.filter(user_id=self.world.user_pk[user]).update(
            organization_id=self.world.organization_pk[organization]
        )
        self._moved_members.add(user)
        self.world.reload(user)

    # --- after every step ----------------------------------------------------------------------
    @invariant()
    def agrees_with_model(self):
        self.checks += 1
        model, w = self.model, self.world
        today = model.today
        when = f"at {timezone.localtime():%Y-%m-%d %H:%M:%S.%f} (today {today})"
        assert timezone.localdate() == today

        grants = {grant.pk: grant for grant in Grant.objects.with_status()}
        assert set(grants) == set(model.grants)
        for grant_id, grant in grants.items():
            row = model.grants[grant_id]
            assert (grant.creator_id, grant.organization_id, grant.starts_on, grant.ends_on) == (
                w.creator_pk[row.creator], w.organization_pk[row.organization], row.starts_on, row.ends_on,
            )  # fmt: skip
            assert (grant.revoked_at is not None) == row.revoked
            status = model.status(grant_id)
            assert grant.status == status, f"grant {grant_id} {row} {when}"
            assert grant.status_value == status, f"grant {grant_id} {row} {when}"
            assert grant.can_revoke() == model.may_revoke(grant_id)
            assert grant.can_renew_early() == model.may_renew_early(grant_id)
            assert grant.can_renew() == model.may_renew(grant_id)
            assert grant.days_left == model.days_left(grant_id), f"grant {grant_id} {row} {when}"
            assert grant.is_latest == model.is_latest(grant_id)
            assert (grant.parts, grant.delegation_allowed) == (row.scope, row.delegation_allowed)
        delegations = {
            d.pk: (d.grant_id, d.sub_account_id, d.ends_on, d.parts, d.ended_at is not None)
            for d in Delegation.objects.all()
        }
        assert delegations == {
            pk: (d.grant_id, w.user_pk[d.sub_account], d.ends_on, d.scope, d.ended)
            for pk, d in model.delegations.items()
        }, when
        if self.checks % 4 == 1:  # an aggregate of five filtered counts: every few steps is enough
            assert Grant.objects.status_counts() == model.status_counts()

        # Livestream requests: the stored status (what was decided), the status now (derived from
        # the time: the attribute, and the query's annotation), the reason.
        requests = {
            r.pk: (r.livestream_id, r.organization_id, stored, r.status, r.status_now, r.reason)
            for r, stored in ((r, r.__dict__["status"]) for r in LivestreamAccessRequest.objects.with_current_status())
        }
        assert requests == {
            pk: (
                w.livestream_pk[r.livestream], w.organization_pk[r.organization], r.stored, r.status(model.now),
                r.status(model.now), r.reason,
            )
            for pk, r in model.requests.items()
        }, when  # fmt: skip

        grant_requests = {
            r.pk: (
                r.creator_id, r.organization_id, r.kind, r.grant_id, r.starts_on, r.ends_on, r.__dict__["status"],
                r.status, r.status_now, r.reason,
            )
            for r in GrantRequest.objects.with_current_status()
        }  # fmt: skip
        assert grant_requests == {
            pk: (
                w.creator_pk[r.creator], w.organization_pk[r.organization], r.kind, r.grant_id, r.starts_on,
                r.ends_on, r.stored, r.status(model.now), r.status(model.now), r.reason,
            )
            for pk, r in model.grant_requests.items()
        }, when  # fmt: skip
        if self.checks % 4 == 2:  # the filters of the tabs and badges, from the same definition
            pending_now = {pk for pk, r in model.grant_requests.items() if r.status(model.now) == spec.PENDING}
            assert set(GrantRequest.objects.pending().values_list("pk", flat=True)) == pending_now
            expired_now = {pk for pk, r in model.requests.items() if r.status(model.now) == spec.EXPIRED_REQUEST}
            assert set(LivestreamAccessRequest.objects.expired().values_list("pk", flat=True)) == expired_now

        self._check_access()

    def _expected_access(self) -> dict[tuple[str, str, str], bool]:
        model = self.model
        answers = {
            CREATOR_DATA: model.can_view_creator_data,
            MODULES: model.can_view_livestream_modules,
            PARTS: model.creator_parts,
        }
        return {(kind, user, target): answers[kind](user, target) for kind, user, target in ACCESS_PAIRS}

    def _check_access(self) -> None:
        """Compare the access decisions with the model's. After every step: every (user, creator) and
        (user, livestream) pair whose expected answer just changed, and a rotating slice of all the
        pairs (each pair comes round every ~19 steps), alternating between users whose creator and
        membership are loaded (no-query path) and plain ones.

        Why not all 56 pairs after every step: an access call costs ~1–5 ms on PostgreSQL (building
        and planning its EXISTS subqueries), so 200 examples of up to 30 steps would take 5–20
        minutes instead of 1–3. ``MODEL_FULL_ACCESS=1`` checks every pair after every step anyway.
        """
        expected = self._expected_access()
        if self.full_access:
            checks = [(pair, self.checks % 2) for pair in ACCESS_PAIRS]
        else:
            changed = [pair for pair in ACCESS_PAIRS if expected[pair] != self._last_access[pair]]
            for kind, user, _target in changed:  # a delegate's parts narrowed or gone (SPEC §12)
                if kind == PARTS and not self.world.spec.users[user].main and not self.world.spec.users[user].creator:
                    OUTCOMES["delegation", "a delegate's parts changed"] += 1
            start = (self.rotation + self.checks * ROTATION) % len(ACCESS_PAIRS)
            rotating = (ACCESS_PAIRS * 2)[start : start + ROTATION]
            checks = [(pair, (self.checks + i) % 2) for i, pair in enumerate(dict.fromkeys(changed + rotating))]
        self._last_access = expected
        w = self.world
        when = f"at {timezone.localtime():%Y-%m-%d %H:%M:%S.%f} (today {self.model.today})"
        for (kind, user_name, target), loaded in checks:
            user = (w.loaded_users if loaded else w.plain_users)[user_name]
            if kind == CREATOR_DATA:
                actual = access.can_view_creator_data(user, w.creators[target])
            elif kind == PARTS:  # by the creator's id: the perspective's path
                actual = access.creator_access(user, w.creator_pk[target]).parts
            else:
                actual = access.can_view_livestream_modules(user, w.livestreams[target])
            path = "loaded" if loaded else "plain"
            assert actual == expected[(kind, user_name, target)], (
                f"{kind}({user_name} [{path}], {target}) should be {expected[(kind, user_name, target)]} {when}"
            )
        assert not User.membership.is_cached(w.plain_users["shop1.main"]), "plain users stay plain"


# --- the tests --------------------------------------------------------------------------------


# Outcomes every full run reaches, each well over a hundred times in 200 examples (checked when it
# runs at least that many): a strategy that stopped reaching them would fail the test. Hypothesis
# disables rules at random per example (swarm testing), so rarer outcomes (a decline, too_soon,
# end_not_later, a new request after an expired one …) are not asserted here; the replay tests
# below walk through each of them on the same machine.
MUST_HAPPEN = [
    ("request", "Done(request)"),
    ("grant_request", "Done(request)"),
    ("grant_request", "PermissionDenied"),
    ("delegation", "Done(delegate)"),
    ("delegation", "Done(end)"),
    ("delegation", "a delegate's parts changed"),
    ("grant", "Done(change_scope)"),
    ("grant", "Done(forbid_delegation)"),
]


@pytest.mark.django_db
def test_services_and_access_agree_with_the_spec_model(world):
    OUTCOMES.clear()
    run_state_machine_as_test(lambda: PortalMachine(world), settings=MODEL_SETTINGS)
    if EXAMPLES >= 200:
        missing = [outcome for outcome in MUST_HAPPEN if not OUTCOMES[outcome]]
        assert not missing, f"never reached in {EXAMPLES} examples: {missing}"


@pytest.mark.django_db
def test_replay_authorize_expire_renew_revoke(world):
    """One hand-written sequence through the same machine: the model in action."""
    machine = PortalMachine(world)
    machine.full_access = True  # every access pair after every step
    try:
        machine.start_clock(hour=9, minute=0)
        machine.agrees_with_model()

        # 2026-11-28 to 2026-11-30: active at once for shop1's main account, not for its sub-account.
        machine.authorize(creator="creator1", actor=OWNER, organization="shop1", start=0, length=2)
        machine.agrees_with_model()
        (grant_id,) = machine.model.grants
        assert machine.model.status(grant_id) == spec.ACTIVE
        assert machine.model.can_view_creator_data("shop1.main", "creator1")
        assert machine.model.can_view_livestream_modules("shop1.main", "c1-c")  # all the creator's streams
        assert not machine.model.can_view_creator_data("shop1.sub", "creator1")

        # A second authorization of the pair is refused while the grant is live or expired.
        machine.authorize(creator="creator1", actor=OWNER, organization="shop1", start=1, length=1)
        assert len(machine.model.grants) == 1

        # The last instant of the last day still has access; midnight ends it.
        machine.advance(days=2, hours=0)
        machine.last_instant_of_the_day()
        machine.agrees_with_model()
        assert machine.model.status(grant_id) == spec.ACTIVE
        assert machine.model.days_left(grant_id) == 1
        machine.next_midnight()
        machine.agrees_with_model()
        assert machine.model.status(grant_id) == spec.EXPIRED
        assert not machine.model.can_view_creator_data("shop1.main", "creator1")

        # Someone else may not renew; the owner renews from tomorrow: scheduled.
        machine.renew(index=0, actor="shop1.main", start=1, length=5)
        machine.renew(index=0, actor=OWNER, start=1, length=5)
        machine.agrees_with_model()
        assert machine.model.status(grant_id) == spec.SCHEDULED

        # Revoked at once; revoking again is refused with not_revocable.
        machine.revoke(index=0, actor=OWNER)
        machine.revoke(index=0, actor=OWNER)
        machine.agrees_with_model()
        assert machine.model.status(grant_id) == spec.REVOKED
        operations = list(GrantEvent.objects.order_by("pk").values_list("operation", flat=True))
        assert operations == ["authorize", "renew", "revoke"]
    finally:
        machine.teardown()


@pytest.mark.django_db
def test_replay_requests_decline_ask_again_expire_and_approve(world):
    """Full-data and extension requests through the same machine: pending_exists, a decline with a
    reason, too_soon for 7 days, a request again, its expiry (neither approved nor declined), a new
    request closing the expired one, an approval with an edited period, an extension; and a
    livestream request that expires and is made again."""
    machine = PortalMachine(world)
    machine.full_access = True
    try:
        machine.start_clock(hour=10, minute=0)
        model = machine.model

        def outcome(name, **kwargs):
            getattr(machine, name)(**kwargs)
            machine.agrees_with_model()

        # shop1 asks creator1 for full data; asking again while pending is refused.
        outcome(
            "request_grant", creator="creator1", organization="shop1", actor=MAIN, start=0, length=30, message="您好"
        )
        outcome("request_grant", creator="creator1", organization="shop1", actor=MAIN, start=0, length=30, message=None)
        (first,) = model.grant_requests
        assert OUTCOMES["grant_request", "ValidationError(pending_exists)"]
        # A sub-account, or a proposal of 367 days, is refused.
        outcome(
            "request_grant",
            creator="creator2",
            organization="shop1",
            actor="shop1.sub",
            start=0,
            length=3,
            message=None,
        )
        outcome(
            "request_grant", creator="creator2", organization="shop1", actor=MAIN, start=0, length=366, message=None
        )
        assert len(model.grant_requests) == 1

        # Declined with a reason: the shop may not ask again for 7 days, then it may.
        outcome("decline_grant_request", index=0, actor=OWNER, reason="  档期已满  ")
        assert model.grant_requests[first].reason == "档期已满"
        assert GrantRequest.objects.get(pk=first).reason == "档期已满"
        outcome("advance", days=6, hours=23)
        outcome("request_grant", creator="creator1", organization="shop1", actor=MAIN, start=0, length=30, message=None)
        assert OUTCOMES["grant_request", "ValidationError(too_soon)"]
        outcome("advance", days=0, hours=1)
        outcome("request_grant", creator="creator1", organization="shop1", actor=MAIN, start=1, length=30, message=None)
        second = list(model.grant_requests)[-1]
        assert model.grant_request_status(second) == spec.PENDING

        # A week later to the minute it is still pending; a minute more and it has expired.
        outcome("a_week_later", minutes=0)
        assert model.grant_request_status(second) == spec.PENDING
        outcome("a_week_later", minutes=-10079)  # one minute later
        assert model.grant_request_status(second) == spec.EXPIRED_REQUEST
        outcome("approve_grant_request", index=1, actor=OWNER, edit=False, start=0, length=0)
        outcome("decline_grant_request", index=1, actor=OWNER, reason=None)
        assert GrantRequest.objects.get(pk=second).status == "expired"

        # Asking again closes the expired request (stored "expired") and makes a new one.
        closed = model.closed_expired
        outcome("request_grant", creator="creator1", organization="shop1", actor=MAIN, start=0, length=10, message=None)
        assert model.closed_expired == closed + 1
        assert GrantRequest.objects.get(pk=second).__dict__["status"] == "expired"
        # Approved with an edited period (the proposal started in the past would be refused).
        outcome("approve_grant_request", index=2, actor=OWNER, edit=True, start=0, length=20)
        (grant_id,) = model.grants
        assert model.status(grant_id) == spec.ACTIVE
        assert model.grants[grant_id].ends_on == model.today + datetime.timedelta(days=20)

        # An extension: not later than the current end is refused; a later one is approved.
        outcome("request_extension", index=0, actor=MAIN, extra_days=0, start=None, length=0, message=None)
        assert OUTCOMES["grant_request", "ValidationError(end_not_later)"]
        outcome("request_extension", index=0, actor=MAIN, extra_days=5, start=None, length=0, message=None)
        outcome("approve_grant_request", index=3, actor=OWNER, edit=False, start=0, length=0)
        assert model.grants[grant_id].ends_on == model.today + datetime.timedelta(days=25)
        operations = list(GrantEvent.objects.order_by("pk").values_list("operation", flat=True))
        assert operations == ["authorize", "renew_early"]

        # A livestream request that nobody answers expires; asking again makes a new one.
        outcome("request", livestream="c1-b", actor=MEMBER, pick=0)
        (stream_request,) = model.requests
        outcome("a_week_later", minutes=1)
        assert model.request_status(stream_request) == spec.EXPIRED_REQUEST
        outcome("approve", index=0, actor=OWNER)
        assert OUTCOMES["request", "ValidationError(request_expired)"]
        outcome("request", livestream="c1-b", actor=MEMBER, pick=1)
        assert len(model.requests) == 2
        assert LivestreamAccessRequest.objects.get(pk=stream_request).__dict__["status"] == "expired"
    finally:
        machine.teardown()


@pytest.mark.django_db
def test_replay_delegation_ends_with_revoke_expiry_narrowing_and_a_move(world):
    """SPEC §12 through the same machine: shop1's main account delegates creator1's grant to its
    sub-account; narrowing the grant narrows the delegation; a move to another organization ends
    it at once and moving back restores it; revoking ends it; a second grant's delegation ends with
    the grant's last day; forbidding ends the delegations of a grant with history."""
    machine = PortalMachine(world)
    machine.full_access = True
    try:
        machine.start_clock(hour=9, minute=0)
        model = machine.model

        def step(name, **kwargs):
            getattr(machine, name)(**kwargs)
            machine.agrees_with_model()

        step(
            "authorize_and_delegate", creator="creator1", organization="shop1", start=0, length=5, end=0,
            scope=None, delegated=frozenset({"overview", "livestreams"}),
        )  # fmt: skip
        assert model.creator_parts("shop1.sub", "creator1") == {"overview", "livestreams"}
        assert not model.can_view_livestream_modules("shop1.sub", "c1-c")
        step("change_scope", index=0, actor=OWNER, scope=frozenset({"overview", "modules"}))
        assert model.creator_parts("shop1.sub", "creator1") == {"overview"}
        assert model.creator_parts("shop1.main", "creator1") == {"overview", "modules"}
        step("move_sub_account", user="shop1.sub", organization="shop2")
        assert model.creator_parts("shop1.sub", "creator1") == frozenset()
        step("move_sub_account", user="shop1.sub", organization="shop1")
        assert model.creator_parts("shop1.sub", "creator1") == {"overview"}
        step("revoke", index=0, actor=OWNER)
        assert model.creator_parts("shop1.sub", "creator1") == frozenset()
        assert Message.objects.filter(recipient=world.users["shop1.sub"], kind="grant_changed").exists()

        # creator2 → shop1 for 3 days, delegated until its last day: midnight ends both.
        step(
            "authorize_and_delegate", creator="creator2", organization="shop1", start=0, length=2, end=0,
            scope=None, delegated=None,
        )  # fmt: skip
        assert model.creator_parts("shop1.sub", "creator2") == set(spec.PARTS)
        step("advance", days=2, hours=0)
        step("last_instant_of_the_day")
        assert model.creator_parts("shop1.sub", "creator2") == set(spec.PARTS)
        step("next_midnight")
        assert model.creator_parts("shop1.sub", "creator2") == frozenset()

        # agency: forbidding ends its delegation (its event, the grant's event, the message).
        step(
            "authorize_and_delegate", creator="creator1", organization="agency", start=0, length=5, end=0,
            scope=frozenset({"products"}), delegated=None,
        )  # fmt: skip
        assert model.creator_parts("agency.sub", "creator1") == {"products"}
        third = list(model.grants).index(max(model.grants))
        step("set_delegation_allowed", index=third, actor=OWNER, allowed=False)
        assert model.creator_parts("agency.sub", "creator1") == frozenset()
        step("delegate", index=third, live=False, actor=MAIN, sub=SUB, end=0, scope=None)
        assert OUTCOMES["delegation", "ValidationError(delegation_forbidden)"]
        operations = list(DelegationEvent.objects.order_by("pk").values_list("operation", flat=True))
        assert operations == ["delegate", "delegate", "delegate", "forbidden"]
    finally:
        machine.teardown()
