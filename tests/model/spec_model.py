"""A plain-Python model of SPEC §4–§6, written from the SPEC (not from the code).

No Django in here: parties are named by strings, grants and requests by the ids the database gave
them, and the clock is an aware datetime. Two kinds of test ask it what the portal should have done:

- the state machine in ``test_state_machine.py`` runs the real services and compares them with
  ``SpecModel`` (the state: grants, requests, the clock);
- the bad-input tests in ``tests/security/bad_input/`` post forms and parameters and compare the
  answers with the rules below, which are plain functions of their inputs (``parse_date``,
  ``grant_date``, ``period_refusal``, ``range_refusal``, the guards of each operation), the same
  functions ``SpecModel`` applies.

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
# Livestream request statuses (SPEC §5; ENDED: the livestream changed creator, issue 12).
PENDING, APPROVED, DECLINED, ENDED = "pending", "approved", "declined", "ended"


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


# --- the rules, as functions of their inputs ----------------------------------------------------


def day_of(now: datetime.datetime) -> datetime.date:
    """SPEC §4: "today" is the current date in the platform's timezone."""
    return now.astimezone(PLATFORM_TZ).date()


def grant_status(*, starts_on: datetime.date, ends_on: datetime.date, revoked: bool, today: datetime.date) -> str:
    """SPEC §4, "Status of a grant, on a given day"."""
    if revoked:
        return REVOKED
    if starts_on > today:
        return SCHEDULED
    if ends_on < today:
        return EXPIRED
    return ACTIVE  # starts_on <= today <= ends_on, both inclusive


# "Allowed on" of the four operations.
REVOCABLE = RENEWABLE_EARLY = (SCHEDULED, ACTIVE)
RENEWABLE = (EXPIRED,)


def period_refusal(starts_on: datetime.date, ends_on: datetime.date, *, today: datetime.date) -> Refused | None:
    """The rules of a new period (authorize, renew): ``starts_on`` >= today; ``ends_on`` >= ``starts_on``."""
    # Both rules broken at once: the SPEC does not say which is named; the code checks the start
    # first, and so does the model.
    if starts_on < today:
        return Refused("starts_in_past")
    if ends_on < starts_on:
        return Refused("ends_before_start")
    return None


def authorize_refusal(
    pair_statuses: list[str], *, starts_on: datetime.date, ends_on: datetime.date, today: datetime.date
) -> Refused | None:
    """Authorize, given the statuses of the creator's grants to the organization so far."""
    # "Allowed on" is checked before the rules of the inputs (the SPEC's table does not order
    # them; the code does it this way).
    if any(status != REVOKED for status in pair_statuses):
        return Refused("already_granted")
    return period_refusal(starts_on, ends_on, today=today)


def revoke_refusal(status: str) -> Refused | None:
    return None if status in REVOCABLE else Refused("not_revocable")


def renew_early_refusal(status: str, *, current_ends_on: datetime.date, ends_on: datetime.date) -> Refused | None:
    if status not in RENEWABLE_EARLY:
        return Refused("not_renewable_early")
    if ends_on <= current_ends_on:
        return Refused("end_not_later")
    return None


def renew_refusal(
    status: str, *, starts_on: datetime.date, ends_on: datetime.date, today: datetime.date
) -> Refused | None:
    if status not in RENEWABLE:
        return Refused("not_expired")
    return period_refusal(starts_on, ends_on, today=today)


def may_view_creator_data(*, is_the_creator: bool, main_account: bool, pair_statuses: list[str]) -> bool:
    """SPEC §3/§4: the creator themself; the main account of an organization whose full-data grant
    from the creator is active today (``pair_statuses``: the statuses of that pair's grants).
    Sub-accounts never. The perspective switch (§3) offers exactly these creators."""
    return is_the_creator or (main_account and ACTIVE in pair_statuses)


# A request is open while pending or approved: a new one is refused (approved) or returns the
# pending one; after a decline or a revoke the organization may request again (SPEC §5).
OPEN_REQUEST = (PENDING, APPROVED)


def request_refusal(open_status: str | None) -> Refused | None:
    """A new livestream request, given the status of the organization's open request (None: none)."""
    return Refused("already_approved") if open_status == APPROVED else None


@dataclass(frozen=True)
class Decision:
    """A creator's decision on a livestream request (SPEC §5): allowed from one status only."""

    from_status: str
    to_status: str
    code: str  # the refusal from any other status
    event: str


DECISIONS = {
    "approve": Decision(PENDING, APPROVED, "not_pending", "approve"),
    "decline": Decision(PENDING, DECLINED, "not_pending", "decline"),
    "revoke": Decision(APPROVED, REVOKED, "not_approved", "revoke"),
}


def decision_refusal(action: str, status: str) -> Refused | None:
    decision = DECISIONS[action]
    return None if status == decision.from_status else Refused(decision.code)


# --- typed input: dates and the date range of the data pages ------------------------------------
# Dates are typed as YYYY-MM-DD (what the date pickers send). The calendar bounds are not in the
# SPEC's text but are the project's documented rules (docs/reliability.md, "bad input"): a grant's
# dates are this century's, and a custom data range (SPEC §6) lies in 2000-01-01 … 2100-12-31 and is
# at most 366 days long. The codes are the ones the forms give.

EARLIEST_DAY = datetime.date(2000, 1, 1)
LATEST_DAY = datetime.date(2100, 12, 31)
RANGE_PRESETS = ("7", "30", "90")  # SPEC §6: last 7 / 30 / 90 days
MAX_RANGE_DAYS = 366


def parse_date(value: str | None) -> datetime.date | Refused:
    """A typed date: YYYY-MM-DD, surrounding blanks ignored; ``None`` is a field left out."""
    if value is None or value == "":
        return Refused("required")
    try:
        return datetime.datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        return Refused("invalid")


def grant_date(value: str | None) -> datetime.date | Refused:
    """A date of a grant's form (``starts_on``, ``ends_on``): a date no later than ``LATEST_DAY``."""
    parsed = parse_date(value)
    if isinstance(parsed, datetime.date) and parsed > LATEST_DAY:
        return Refused("max_value")
    return parsed


def range_refusal(*, preset: str | None, start: str | None, end: str | None) -> Refused | None:
    """SPEC §6: the data range asked for by a page's parameters (``None``: left out), refused with
    the first broken rule; a refused range shows the default one and says why."""
    if preset not in (None, "", *RANGE_PRESETS):
        return Refused("invalid_choice")
    days = []
    for value in (start, end):
        parsed = None if value in (None, "") else parse_date(value)
        if isinstance(parsed, Refused):
            return parsed
        days.append(parsed)
    first, last = days
    if first is None and last is None:
        return None  # a preset, or the default
    if first is None or last is None:
        return Refused("incomplete")
    if last < first:
        return Refused("end_before_start")
    if first < EARLIEST_DAY or last > LATEST_DAY:
        return Refused("out_of_bounds")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        return Refused("too_long")
    return None


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
        return grant_status(starts_on=self.starts_on, ends_on=self.ends_on, revoked=self.revoked, today=today)


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
        self.moved: dict[str, str] = {}  # livestream -> its creator now, when an import or staff moved it

    # --- the clock ----------------------------------------------------------------------------
    @property
    def today(self) -> datetime.date:
        return day_of(self.now)

    def move_to(self, now: datetime.datetime) -> None:
        assert now >= self.now, "the clock only moves forward"
        self.now = now

    # --- reads ----------------------------------------------------------------------------------
    def status(self, grant_id: int) -> str:
        return self.grants[grant_id].status(self.today)

    def may_revoke(self, grant_id: int) -> bool:
        return self.status(grant_id) in REVOCABLE

    def may_renew_early(self, grant_id: int) -> bool:
        return self.status(grant_id) in RENEWABLE_EARLY

    def may_renew(self, grant_id: int) -> bool:
        return self.status(grant_id) in RENEWABLE

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

    def _pair_statuses(self, creator: str, organization: str | None) -> list[str]:
        """The statuses today of the creator's grants to the organization, oldest first."""
        return [
            g.status(self.today)
            for g in self.grants.values()
            if g.creator == creator and g.organization == organization
        ]

    def can_view_creator_data(self, user: str, creator: str) -> bool:
        person = self.cast.users[user]
        return may_view_creator_data(
            is_the_creator=person.creator == creator,
            main_account=person.main,
            pair_statuses=self._pair_statuses(creator, person.organization),
        )

    def can_view_livestream_modules(self, user: str, livestream: str) -> bool:
        """SPEC §5: the creator; every member (main and sub) of an organization whose request was
        approved (until revoked); the main account of an organization with an active full-data grant
        from the livestream's creator."""
        person = self.cast.users[user]
        creator = self.creator_of(livestream)
        if person.creator == creator:
            return True
        if person.organization is None:
            return False
        if any(
            r.livestream == livestream and r.organization == person.organization and r.status == APPROVED
            for r in self.requests.values()
        ):
            return True
        return may_view_creator_data(
            is_the_creator=False,
            main_account=person.main,
            pair_statuses=self._pair_statuses(creator, person.organization),
        )

    # --- full-data grants (SPEC §4, "The four operations") ---------------------------------------
    def _is_owner(self, actor: str, creator: str) -> bool:
        return self.cast.users[actor].creator == creator

    def authorize(
        self, *, actor: str, creator: str, organization: str, starts_on: datetime.date, ends_on: datetime.date
    ) -> Outcome:
        # "All by the creator who owns the grant"; a user who may not act is refused whatever the
        # state (the SPEC does not order the two; the code checks the actor first).
        if not self._is_owner(actor, creator):
            return Forbidden()
        statuses = self._pair_statuses(creator, organization)
        if refusal := authorize_refusal(statuses, starts_on=starts_on, ends_on=ends_on, today=self.today):
            return refusal

        def apply(grant_id: int) -> None:
            self.grants[grant_id] = GrantRow(grant_id, creator, organization, starts_on, ends_on)

        return Done("authorize", apply, new_row=True)

    def revoke(self, *, actor: str, grant_id: int) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := revoke_refusal(self.status(grant_id)):
            return refusal

        def apply(_: int) -> None:
            grant.revoked = True

        return Done("revoke", apply)

    def renew_early(self, *, actor: str, grant_id: int, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := renew_early_refusal(self.status(grant_id), current_ends_on=grant.ends_on, ends_on=ends_on):
            return refusal

        def apply(_: int) -> None:
            grant.ends_on = ends_on  # starts_on unchanged

        return Done("renew_early", apply)

    def renew(self, *, actor: str, grant_id: int, starts_on: datetime.date, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := renew_refusal(self.status(grant_id), starts_on=starts_on, ends_on=ends_on, today=self.today):
            return refusal

        def apply(_: int) -> None:
            grant.starts_on, grant.ends_on = starts_on, ends_on

        return Done("renew", apply)

    # --- single-livestream requests (SPEC §5) ---------------------------------------------------
    def _open_request(self, livestream: str, organization: str) -> RequestRow | None:
        for request in self.requests.values():
            if (request.livestream, request.organization) == (livestream, organization) and (
                request.status in OPEN_REQUEST
            ):
                return request
        return None

    def request(self, *, actor: str, livestream: str) -> Outcome:
        """SPEC §5: only cooperating organizations can request, through any member (main or sub)."""
        organization = self.cast.users[actor].organization
        if organization is None or organization not in self.cast.livestreams[livestream].cooperating:
            return Forbidden()
        existing = self._open_request(livestream, organization)
        if refusal := request_refusal(existing.status if existing is not None else None):
            return refusal
        if existing is not None:  # pending: it is returned, nothing new is written
            return Done(None, lambda _: None, returns=existing.id)

        def apply(request_id: int) -> None:
            self.requests[request_id] = RequestRow(request_id, livestream, organization)

        return Done("request", apply, new_row=True)

    def _decide(self, action: str, *, actor: str, request_id: int) -> Outcome:
        request = self.requests[request_id]
        # Only the livestream's creator decides (SPEC §5 "Creator: ..."); the actor is checked first
        # (the SPEC does not order the two; the code does it this way).
        if self.cast.users[actor].creator != self.creator_of(request.livestream):
            return Forbidden()
        if refusal := decision_refusal(action, request.status):
            return refusal

        def apply(_: int) -> None:
            request.status = DECISIONS[action].to_status

        return Done(DECISIONS[action].event, apply)

    def approve(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide("approve", actor=actor, request_id=request_id)

    def decline(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide("decline", actor=actor, request_id=request_id)

    def revoke_access(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide("revoke", actor=actor, request_id=request_id)

    # --- a livestream changes creator (issue 12, item 6: an import or staff) ----------------------
    def creator_of(self, livestream: str) -> str:
        return self.moved.get(livestream, self.cast.livestreams[livestream].creator)

    def move(self, *, livestream: str, creator: str) -> list[int]:
        """The livestream now belongs to ``creator``. If that is another creator, every pending or
        approved request for it ends (one history event each): no approval of the former creator
        outlives the move, and none is left for the new creator to decide. Returns the ids ended.
        Nobody can refuse it (no actor's rights are checked: the import and staff may)."""
        if creator == self.creator_of(livestream):
            return []
        self.moved[livestream] = creator
        ended = [r.id for r in self.requests.values() if r.livestream == livestream and r.status in OPEN_REQUEST]
        for request_id in ended:
            self.requests[request_id].status = ENDED
        return ended
