"""A plain-Python model of SPEC §4–§5, written from the SPEC (not from the code).

No Django in here: parties are named by strings, grants and requests by the ids the database gave
them, and the clock is an aware datetime. The state machine in ``test_state_machine.py`` runs the
real services and asks this model what they should have done.

Where the SPEC does not say which of two broken rules is reported first, the model follows the
order of the code; each such place says so.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")  # SPEC §4: "today" is the current date in this timezone

# Grant statuses (SPEC §4, "Status of a grant, on a given day").
SCHEDULED, ACTIVE, EXPIRED, REVOKED = "scheduled", "active", "expired", "revoked"
GRANT_STATUSES = (SCHEDULED, ACTIVE, EXPIRED, REVOKED)
# Livestream request statuses (SPEC §5).
PENDING, APPROVED, DECLINED = "pending", "approved", "declined"


# --- the cast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    creator: str | None = None  # the creator this user is
    organization: str | None = None  # the organization this user is a member of
    main: bool = False  # main account (主账号) of that organization


@dataclass(frozen=True)
class Stream:
    name: str
    creator: str
    cooperating: frozenset[str]  # organizations whose products were sold in it


@dataclass(frozen=True)
class Cast:
    users: dict[str, Person]
    creators: dict[str, str]  # creator -> its user
    organizations: tuple[str, ...]
    livestreams: dict[str, Stream]

    def members(self, organization: str) -> list[str]:
        return [u.name for u in self.users.values() if u.organization == organization]


# --- outcomes of an operation -----------------------------------------------------------------


@dataclass(frozen=True)
class Forbidden:
    """The actor may not perform the operation: ``PermissionDenied`` (HTTP 403), nothing written."""

    def __str__(self) -> str:
        return "PermissionDenied"


@dataclass(frozen=True)
class Refused:
    """A broken rule: ``ValidationError`` with this code, nothing written."""

    code: str

    def __str__(self) -> str:
        return f"ValidationError({self.code})"


@dataclass(frozen=True)
class Done:
    """The operation applies. ``event`` is the history event written (None: nothing is written,
    e.g. a repeated request while one is pending); ``new_row`` says a grant or request is created;
    ``returns`` the id of an existing row the service hands back; ``apply(id)`` updates the model."""

    event: str | None
    apply: Callable[[int], None] = field(compare=False, repr=False)
    new_row: bool = False
    returns: int | None = None

    def __str__(self) -> str:
        return f"Done({self.event})"


Outcome = Forbidden | Refused | Done


# --- the state --------------------------------------------------------------------------------


@dataclass
class GrantRow:
    id: int
    creator: str
    organization: str
    starts_on: datetime.date
    ends_on: datetime.date
    revoked: bool = False

    def status(self, today: datetime.date) -> str:
        if self.revoked:
            return REVOKED
        if self.starts_on > today:
            return SCHEDULED
        if self.ends_on < today:
            return EXPIRED
        return ACTIVE  # starts_on <= today <= ends_on, both inclusive


@dataclass
class RequestRow:
    id: int
    livestream: str
    organization: str
    status: str = PENDING


class SpecModel:
    def __init__(self, cast: Cast, now: datetime.datetime):
        self.cast = cast
        self.now = now
        self.grants: dict[int, GrantRow] = {}  # by id, in order of creation
        self.requests: dict[int, RequestRow] = {}

    # --- the clock ----------------------------------------------------------------------------
    @property
    def today(self) -> datetime.date:
        return self.now.astimezone(PLATFORM_TZ).date()

    def move_to(self, now: datetime.datetime) -> None:
        assert now >= self.now, "the clock only moves forward"
        self.now = now

    # --- reads ----------------------------------------------------------------------------------
    def status(self, grant_id: int) -> str:
        return self.grants[grant_id].status(self.today)

    def may_revoke(self, grant_id: int) -> bool:
        return self.status(grant_id) in (SCHEDULED, ACTIVE)

    def may_renew_early(self, grant_id: int) -> bool:
        return self.status(grant_id) in (SCHEDULED, ACTIVE)

    def may_renew(self, grant_id: int) -> bool:
        return self.status(grant_id) == EXPIRED

    def days_left(self, grant_id: int) -> int:
        """SPEC §4 Lists: the days of access that remain, today included; 0 once expired (or revoked)."""
        grant = self.grants[grant_id]
        if self.status(grant_id) not in (SCHEDULED, ACTIVE):
            return 0
        return (grant.ends_on - max(self.today, grant.starts_on)).days + 1

    def is_latest(self, grant_id: int) -> bool:
        """The lists show, per (creator, organization), the most recently created grant."""
        grant = self.grants[grant_id]
        pair = [
            g.id for g in self.grants.values() if (g.creator, g.organization) == (grant.creator, grant.organization)
        ]
        return pair[-1] == grant_id

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(GRANT_STATUSES, 0)
        for grant_id in self.grants:
            counts[self.status(grant_id)] += 1
        return {"all": len(self.grants), **counts}

    def _active_grant(self, creator: str, organization: str) -> bool:
        return any(
            g.creator == creator and g.organization == organization and g.status(self.today) == ACTIVE
            for g in self.grants.values()
        )

    def can_view_creator_data(self, user: str, creator: str) -> bool:
        """SPEC §3/§4: the creator themself; the main account of an organization whose full-data
        grant from the creator is active today. Sub-accounts never."""
        person = self.cast.users[user]
        if person.creator == creator:
            return True
        return person.main and self._active_grant(creator, person.organization)

    def can_view_livestream_modules(self, user: str, livestream: str) -> bool:
        """SPEC §5: the creator; every member (main and sub) of an organization whose request was
        approved (until revoked); the main account of an organization with an active full-data grant
        from the livestream's creator."""
        person = self.cast.users[user]
        stream = self.cast.livestreams[livestream]
        if person.creator == stream.creator:
            return True
        if person.organization is None:
            return False
        if any(
            r.livestream == livestream and r.organization == person.organization and r.status == APPROVED
            for r in self.requests.values()
        ):
            return True
        return person.main and self._active_grant(stream.creator, person.organization)

    # --- full-data grants (SPEC §4, "The four operations") ---------------------------------------
    def _is_owner(self, actor: str, creator: str) -> bool:
        return self.cast.users[actor].creator == creator

    def _period_refusal(self, starts_on: datetime.date, ends_on: datetime.date) -> Refused | None:
        # Both rules broken at once: the SPEC does not say which is named; the code checks the start
        # first, and so does the model.
        if starts_on < self.today:
            return Refused("starts_in_past")
        if ends_on < starts_on:
            return Refused("ends_before_start")
        return None

    def authorize(
        self, *, actor: str, creator: str, organization: str, starts_on: datetime.date, ends_on: datetime.date
    ) -> Outcome:
        # "All by the creator who owns the grant"; a user who may not act is refused whatever the
        # state (the SPEC does not order the two; the code checks the actor first).
        if not self._is_owner(actor, creator):
            return Forbidden()
        # "Allowed on" is checked before the rules of the inputs (the SPEC's table does not order
        # them; the code does it this way).
        if any(
            g.creator == creator and g.organization == organization and g.status(self.today) != REVOKED
            for g in self.grants.values()
        ):
            return Refused("already_granted")
        if refusal := self._period_refusal(starts_on, ends_on):
            return refusal

        def apply(grant_id: int) -> None:
            self.grants[grant_id] = GrantRow(grant_id, creator, organization, starts_on, ends_on)

        return Done("authorize", apply, new_row=True)

    def revoke(self, *, actor: str, grant_id: int) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if not self.may_revoke(grant_id):
            return Refused("not_revocable")

        def apply(_: int) -> None:
            grant.revoked = True

        return Done("revoke", apply)

    def renew_early(self, *, actor: str, grant_id: int, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if not self.may_renew_early(grant_id):
            return Refused("not_renewable_early")
        if ends_on <= grant.ends_on:
            return Refused("end_not_later")

        def apply(_: int) -> None:
            grant.ends_on = ends_on  # starts_on unchanged

        return Done("renew_early", apply)

    def renew(self, *, actor: str, grant_id: int, starts_on: datetime.date, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if not self.may_renew(grant_id):
            return Refused("not_expired")
        if refusal := self._period_refusal(starts_on, ends_on):
            return refusal

        def apply(_: int) -> None:
            grant.starts_on, grant.ends_on = starts_on, ends_on

        return Done("renew", apply)

    # --- single-livestream requests (SPEC §5) ---------------------------------------------------
    def _open_request(self, livestream: str, organization: str) -> RequestRow | None:
        for request in self.requests.values():
            if (request.livestream, request.organization) == (livestream, organization) and request.status in (
                PENDING,
                APPROVED,
            ):
                return request
        return None

    def request(self, *, actor: str, livestream: str) -> Outcome:
        """SPEC §5: only cooperating organizations can request, through any member (main or sub)."""
        organization = self.cast.users[actor].organization
        if organization is None or organization not in self.cast.livestreams[livestream].cooperating:
            return Forbidden()
        existing = self._open_request(livestream, organization)
        if existing is not None and existing.status == APPROVED:
            return Refused("already_approved")
        if existing is not None:  # pending: it is returned, nothing new is written
            return Done(None, lambda _: None, returns=existing.id)

        def apply(request_id: int) -> None:
            self.requests[request_id] = RequestRow(request_id, livestream, organization)

        return Done("request", apply, new_row=True)

    def _decide(self, actor: str, request_id: int, *, from_status: str, to_status: str, code: str, event: str):
        request = self.requests[request_id]
        # Only the livestream's creator decides (SPEC §5 "Creator: ..."); the actor is checked first
        # (the SPEC does not order the two; the code does it this way).
        if self.cast.users[actor].creator != self.cast.livestreams[request.livestream].creator:
            return Forbidden()
        if request.status != from_status:
            return Refused(code)

        def apply(_: int) -> None:
            request.status = to_status

        return Done(event, apply)

    def approve(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide(
            actor, request_id, from_status=PENDING, to_status=APPROVED, code="not_pending", event="approve"
        )

    def decline(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide(
            actor, request_id, from_status=PENDING, to_status=DECLINED, code="not_pending", event="decline"
        )

    def revoke_access(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide(
            actor, request_id, from_status=APPROVED, to_status=REVOKED, code="not_approved", event="revoke"
        )
