"""A plain-Python model of SPEC §4–§6, §9, §12 (scopes and delegation) and the messages of §10,
written from the SPEC (not from the code).

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
# Livestream request statuses (SPEC §5; ENDED: the livestream changed creator, issue 12), and a
# request's expiry (SPEC §9).
PENDING, APPROVED, DECLINED, ENDED = "pending", "approved", "declined", "ended"
EXPIRED_REQUEST = "expired"
# Full-data and extension requests (SPEC §9).
GRANT_KIND, EXTENSION_KIND = "grant", "extension"
# What a full-data grant covers (SPEC §12, 授权范围): 数据概览, 商品与店铺, 直播列表, 直播间模块.
PARTS = ("overview", "products", "livestreams", "modules")
ALL_PARTS = frozenset(PARTS)
NO_PARTS: frozenset[str] = frozenset()


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
    ``returns`` the id of an existing row the service hands back; ``apply(id)`` updates the model.
    ``extra``: rows written besides (an approval also writes the grant's own event, and a new grant
    when it authorizes); ``notified``: the users told (SPEC §10), one message each."""

    event: str | None
    apply: Callable[[int], None] = field(compare=False, repr=False)
    new_row: bool = False
    returns: int | None = None
    extra: tuple[tuple[str, int], ...] = ()
    notified: frozenset[str] = frozenset()

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
    """A decision on a request whose status (as of now) is ``status``. Approving or declining an
    expired request is refused as such (SPEC §9: it can no longer be decided)."""
    decision = DECISIONS[action]
    if status == decision.from_status:
        return None
    if status == EXPIRED_REQUEST and decision.from_status == PENDING:
        return Refused("request_expired")
    return Refused(decision.code)


# --- requests (SPEC §9) --------------------------------------------------------------------------

REQUEST_TTL = datetime.timedelta(days=7)  # "still pending 7 days after it was made": expired
ASK_AGAIN_AFTER = datetime.timedelta(days=7)  # after a decline, a full-data request again
MAX_REQUEST_DAYS = 366
TEXT_MAX = 200  # a request's message, a decline's reason


def request_status(stored: str, *, made_at: datetime.datetime, now: datetime.datetime) -> str:
    """A request's status now: what was decided, or expired once pending for more than 7 days (a
    stored "expired" is one closed when its organization asked again)."""
    if stored == PENDING and now - made_at > REQUEST_TTL:
        return EXPIRED_REQUEST
    return stored


def text_refusal(value: str | None) -> Refused | None:
    """A message or a reason: optional, at most 200 characters once trimmed, no NUL character."""
    if value is None:
        return None
    if "\x00" in value:
        return Refused("null_characters_not_allowed")
    if len(value.strip()) > TEXT_MAX:
        return Refused("max_length")
    return None


def proposal_refusal(starts_on: datetime.date, ends_on: datetime.date, *, today: datetime.date) -> Refused | None:
    """A proposed period: the rules of a new period (§4), and at most 366 days, both inclusive."""
    if refusal := period_refusal(starts_on, ends_on, today=today):
        return refusal
    if (ends_on - starts_on).days + 1 > MAX_REQUEST_DAYS:
        return Refused("period_too_long")
    return None


def request_grant_refusal(
    pair_statuses: list[str], *, pending: bool, declined_at: datetime.datetime | None, now: datetime.datetime,
    starts_on: datetime.date, ends_on: datetime.date, today: datetime.date,
) -> Refused | None:  # fmt: skip
    """申请全部带货数据 by a main account, given the pair's grants, whether a full-data request is
    pending now, and the time of the latest decline of one. (The SPEC lists the rules; the code
    checks them in this order, and so does the model.)"""
    if any(status != REVOKED for status in pair_statuses):
        return Refused("already_granted")
    if pending:
        return Refused("pending_exists")
    if declined_at is not None and now < declined_at + ASK_AGAIN_AFTER:
        return Refused("too_soon")
    return proposal_refusal(starts_on, ends_on, today=today)


def extension_refusal(
    grant_status: str, *, pending: bool, current_ends_on: datetime.date, starts_on: datetime.date | None,
    ends_on: datetime.date, today: datetime.date,
) -> Refused | None:  # fmt: skip
    """申请续约 of a grant: a new end (> current, moved out by at most 366 days) for a scheduled or
    active one; a new period for an expired one (``starts_on`` today when not given)."""
    if grant_status == REVOKED:
        return Refused("not_extendable")
    if pending:
        return Refused("pending_exists")
    if grant_status in RENEWABLE_EARLY:
        if ends_on <= current_ends_on:
            return Refused("end_not_later")
        if (ends_on - current_ends_on).days > MAX_REQUEST_DAYS:
            return Refused("period_too_long")
        return None
    return proposal_refusal(starts_on or today, ends_on, today=today)


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
    scope: frozenset[str] = ALL_PARTS  # SPEC §12: all parts unless the creator chose fewer
    delegation_allowed: bool = True  # SPEC §12: unless the creator forbids it

    def status(self, today: datetime.date) -> str:
        return grant_status(starts_on=self.starts_on, ends_on=self.ends_on, revoked=self.revoked, today=today)


@dataclass
class DelegationRow:
    """子账号授权 (SPEC §12): a grant handed on by its organization's main account to a sub-account."""

    id: int
    grant_id: int
    sub_account: str
    ends_on: datetime.date
    scope: frozenset[str]
    ended: bool = False


@dataclass
class RequestRow:
    id: int
    livestream: str
    organization: str
    requester: str = ""
    made_at: datetime.datetime | None = None
    stored: str = PENDING
    reason: str = ""

    def status(self, now: datetime.datetime) -> str:
        return request_status(self.stored, made_at=self.made_at, now=now)


@dataclass
class GrantRequestRow:
    id: int
    creator: str
    organization: str
    kind: str
    grant_id: int | None
    starts_on: datetime.date | None
    ends_on: datetime.date
    made_at: datetime.datetime
    stored: str = PENDING
    decided_at: datetime.datetime | None = None
    reason: str = ""

    def status(self, now: datetime.datetime) -> str:
        return request_status(self.stored, made_at=self.made_at, now=now)


class SpecModel:
    def __init__(self, cast: Cast, now: datetime.datetime):
        self.cast = cast
        self.now = now
        self.grants: dict[int, GrantRow] = {}  # by id, in order of creation
        self.requests: dict[int, RequestRow] = {}
        self.moved: dict[str, str] = {}  # livestream -> its creator now, when an import or staff moved it
        self.grant_requests: dict[int, GrantRequestRow] = {}
        self.closed_expired = 0  # requests closed because their organization asked again after expiry
        self.delegations: dict[int, DelegationRow] = {}
        self.member_of: dict[str, str] = {}  # a sub-account moved to another organization -> that one

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

    def organization_of(self, user: str) -> str | None:
        """The organization the user is a member of now (a sub-account may have moved)."""
        return self.member_of.get(user, self.cast.users[user].organization)

    def delegation_effective(self, row: DelegationRow) -> bool:
        """SPEC §12: a delegation opens its pages while it is not ended nor past its end, its grant is
        active and allows delegation, its sub-account is still a sub-account of the grant's
        organization, and the two scopes share a part."""
        grant = self.grants[row.grant_id]
        person = self.cast.users[row.sub_account]
        return (
            not row.ended
            and row.ends_on >= self.today
            and grant.status(self.today) == ACTIVE
            and grant.delegation_allowed
            and not person.main
            and self.organization_of(row.sub_account) == grant.organization
            and bool(row.scope & grant.scope)
        )

    def creator_parts(self, user: str, creator: str) -> frozenset[str]:
        """What ``user`` may view of ``creator``'s data now (SPEC §3, §4, §12): every part for the
        creator; the scope of the organization's active grant for its main account; for a
        sub-account, the parts its effective delegations share with their grants; nothing else."""
        person = self.cast.users[user]
        if person.creator == creator:
            return ALL_PARTS
        organization = self.organization_of(user)
        if person.main:
            active = [
                g for g in self.grants.values()
                if (g.creator, g.organization) == (creator, organization) and g.status(self.today) == ACTIVE
            ]  # fmt: skip
            return active[0].scope if active else NO_PARTS
        parts: set[str] = set()
        for row in self.delegations.values():
            if (
                row.sub_account == user
                and self.grants[row.grant_id].creator == creator
                and self.delegation_effective(row)
            ):
                parts |= row.scope & self.grants[row.grant_id].scope
        return frozenset(parts)

    def can_view_creator_data(self, user: str, creator: str) -> bool:
        """The overview (数据概览) is open: ``creator_access(...).may_view("overview")``."""
        return "overview" in self.creator_parts(user, creator)

    def can_view_livestream_modules(self, user: str, livestream: str) -> bool:
        """SPEC §5: the creator; every member (main and sub) of an organization whose request was
        approved (until revoked); the main account of an organization with an active full-data grant
        from the livestream's creator."""
        person = self.cast.users[user]
        creator = self.creator_of(livestream)
        if person.creator == creator:
            return True
        organization = self.organization_of(user)
        if organization is None:
            return False
        if any(
            r.livestream == livestream and r.organization == organization and r.stored == APPROVED
            for r in self.requests.values()
        ):
            return True
        # SPEC §12: a grant (or a delegation of one) opens the modules only when its scope covers them.
        return "modules" in self.creator_parts(user, creator)

    def request_status(self, request_id: int) -> str:
        return self.requests[request_id].status(self.now)

    def grant_request_status(self, request_id: int) -> str:
        return self.grant_requests[request_id].status(self.now)

    # --- who is told (SPEC §10, "What is sent, to whom") ----------------------------------------
    def main_account(self, organization: str) -> str:
        return next(u.name for u in self.cast.users.values() if u.organization == organization and u.main)

    def told_of_ended(self, request_id: int) -> frozenset[str]:
        """A request ended by its livestream's move: its requester and its organization's main account."""
        row = self.requests[request_id]
        return frozenset({row.requester, self.main_account(row.organization)})

    def delegates_of(self, grant_id: int) -> frozenset[str]:
        """The sub-accounts holding a delegation of the grant (SPEC §10): not ended nor past its end,
        and still a sub-account of the grant's organization."""
        grant = self.grants[grant_id]
        return frozenset(
            row.sub_account for row in self.delegations.values()
            if row.grant_id == grant_id and not row.ended and row.ends_on >= self.today
            and self.organization_of(row.sub_account) == grant.organization
        )  # fmt: skip

    def _told_of_grant(self, grant_id: int) -> frozenset[str]:
        """A grant authorized, renewed, revoked or its scope changed: the organization's main account
        and the sub-accounts holding a delegation of it (SPEC §10)."""
        return frozenset({self.main_account(self.grants[grant_id].organization)}) | self.delegates_of(grant_id)

    # --- full-data grants (SPEC §4, "The four operations") ---------------------------------------
    def _is_owner(self, actor: str, creator: str) -> bool:
        return self.cast.users[actor].creator == creator

    def authorize(
        self, *, actor: str, creator: str, organization: str, starts_on: datetime.date, ends_on: datetime.date,
        scope: frozenset[str] | None = None,
    ) -> Outcome:  # fmt: skip
        # "All by the creator who owns the grant"; a user who may not act is refused whatever the
        # state (the SPEC does not order the two; the code checks the actor first).
        if not self._is_owner(actor, creator):
            return Forbidden()
        if scope is not None and not scope:  # SPEC §12: at least one part (the code checks it first)
            return Refused("empty_scope")
        scope = ALL_PARTS if scope is None else frozenset(scope)
        statuses = self._pair_statuses(creator, organization)
        if refusal := authorize_refusal(statuses, starts_on=starts_on, ends_on=ends_on, today=self.today):
            return refusal

        def apply(grant_id: int) -> None:
            self.grants[grant_id] = GrantRow(grant_id, creator, organization, starts_on, ends_on, scope=scope)

        return Done("authorize", apply, new_row=True, notified=frozenset({self.main_account(organization)}))

    def revoke(self, *, actor: str, grant_id: int) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := revoke_refusal(self.status(grant_id)):
            return refusal

        def apply(_: int) -> None:
            grant.revoked = True

        return Done("revoke", apply, notified=self._told_of_grant(grant_id))

    def renew_early(self, *, actor: str, grant_id: int, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := renew_early_refusal(self.status(grant_id), current_ends_on=grant.ends_on, ends_on=ends_on):
            return refusal

        def apply(_: int) -> None:
            grant.ends_on = ends_on  # starts_on unchanged

        return Done("renew_early", apply, notified=self._told_of_grant(grant_id))

    def renew(self, *, actor: str, grant_id: int, starts_on: datetime.date, ends_on: datetime.date) -> Outcome:
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if refusal := renew_refusal(self.status(grant_id), starts_on=starts_on, ends_on=ends_on, today=self.today):
            return refusal

        def apply(_: int) -> None:
            grant.starts_on, grant.ends_on = starts_on, ends_on

        return Done("renew", apply, notified=self._told_of_grant(grant_id))

    # --- single-livestream requests (SPEC §5, §9) -----------------------------------------------
    def _open_request(self, livestream: str, organization: str) -> RequestRow | None:
        """The request stored as open (pending or approved) for the pair: at most one."""
        for request in self.requests.values():
            if (request.livestream, request.organization) == (livestream, organization) and (
                request.stored in OPEN_REQUEST
            ):
                return request
        return None

    def request(self, *, actor: str, livestream: str) -> Outcome:
        """SPEC §5: only cooperating organizations can request, through any member (main or sub). A
        pending request is returned; once it has expired (§9), a new one is made."""
        organization = self.organization_of(actor)
        if organization is None or organization not in self.cast.livestreams[livestream].cooperating:
            return Forbidden()
        existing = self._open_request(livestream, organization)
        status = existing.status(self.now) if existing is not None else None
        if refusal := request_refusal(status):
            return refusal
        if status == PENDING:  # it is returned, nothing new is written
            return Done(None, lambda _: None, returns=existing.id)
        now = self.now

        def apply(request_id: int) -> None:
            if existing is not None:
                existing.stored = EXPIRED_REQUEST  # closed: the new one takes its place
                self.closed_expired += 1
            self.requests[request_id] = RequestRow(request_id, livestream, organization, actor, now)

        creator = self.cast.creators[self.creator_of(livestream)]
        return Done("request", apply, new_row=True, notified=frozenset({creator}))

    def _decide(self, action: str, *, actor: str, request_id: int, reason: str | None = None) -> Outcome:
        request = self.requests[request_id]
        # Only the livestream's creator decides (SPEC §5 "Creator: ..."); the actor is checked first,
        # then the status, then the reason (the SPEC does not order them; the code does it this way).
        if self.cast.users[actor].creator != self.creator_of(request.livestream):
            return Forbidden()
        if refusal := decision_refusal(action, request.status(self.now)):
            return refusal
        if refusal := text_refusal(reason):
            return refusal

        def apply(_: int) -> None:
            request.stored = DECISIONS[action].to_status
            if action == "decline":
                request.reason = (reason or "").strip()

        told = frozenset({request.requester, self.main_account(request.organization)})
        return Done(DECISIONS[action].event, apply, notified=told)

    def approve(self, *, actor: str, request_id: int) -> Outcome:
        return self._decide("approve", actor=actor, request_id=request_id)

    def decline(self, *, actor: str, request_id: int, reason: str | None = None) -> Outcome:
        return self._decide("decline", actor=actor, request_id=request_id, reason=reason)

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
        ended = [
            r.id for r in self.requests.values() if r.livestream == livestream and r.status(self.now) in OPEN_REQUEST
        ]
        for request_id in ended:
            self.requests[request_id].stored = ENDED
        return ended

    # --- full-data and extension requests (SPEC §9) -----------------------------------------------
    def _requesting(self, actor: str) -> str | None:
        """The organization a main account asks for; None for anybody else (refused)."""
        person = self.cast.users[actor]
        return person.organization if person.main else None

    def _pending_grant_request(self, creator: str, organization: str, kind: str) -> GrantRequestRow | None:
        """The request stored as pending for (creator, organization, kind): at most one."""
        for row in self.grant_requests.values():
            if (row.creator, row.organization, row.kind, row.stored) == (creator, organization, kind, PENDING):
                return row
        return None

    def _new_grant_request(self, row: GrantRequestRow, stale: GrantRequestRow | None) -> Done:
        def apply(request_id: int) -> None:
            if stale is not None:
                stale.stored = EXPIRED_REQUEST  # the expired one is closed; the new one takes its place
                self.closed_expired += 1
            row.id = request_id
            self.grant_requests[request_id] = row

        return Done("request", apply, new_row=True, notified=frozenset({self.cast.creators[row.creator]}))

    def request_grant(
        self, *, actor: str, creator: str, starts_on: datetime.date, ends_on: datetime.date, message: str | None = None
    ) -> Outcome:
        organization = self._requesting(actor)
        if organization is None:
            return Forbidden()
        stale = self._pending_grant_request(creator, organization, GRANT_KIND)
        declines = [
            row.decided_at
            for row in self.grant_requests.values()
            if (row.creator, row.organization, row.kind, row.stored) == (creator, organization, GRANT_KIND, DECLINED)
        ]
        refusal = request_grant_refusal(
            self._pair_statuses(creator, organization),
            pending=stale is not None and stale.status(self.now) == PENDING,
            declined_at=max(declines) if declines else None,
            now=self.now, starts_on=starts_on, ends_on=ends_on, today=self.today,
        )  # fmt: skip
        if refusal or (refusal := text_refusal(message)):
            return refusal
        row = GrantRequestRow(0, creator, organization, GRANT_KIND, None, starts_on, ends_on, self.now)
        return self._new_grant_request(row, stale)

    def request_extension(
        self, *, actor: str, grant_id: int, ends_on: datetime.date, starts_on: datetime.date | None = None,
        message: str | None = None,
    ) -> Outcome:  # fmt: skip
        grant = self.grants[grant_id]
        if self._requesting(actor) != grant.organization:
            return Forbidden()
        status = self.status(grant_id)
        stale = self._pending_grant_request(grant.creator, grant.organization, EXTENSION_KIND)
        refusal = extension_refusal(
            status, pending=stale is not None and stale.status(self.now) == PENDING,
            current_ends_on=grant.ends_on, starts_on=starts_on, ends_on=ends_on, today=self.today,
        )  # fmt: skip
        if refusal or (refusal := text_refusal(message)):
            return refusal
        proposed_start = None if status in RENEWABLE_EARLY else (starts_on or self.today)
        row = GrantRequestRow(
            0, grant.creator, grant.organization, EXTENSION_KIND, grant_id, proposed_start, ends_on, self.now
        )
        return self._new_grant_request(row, stale)

    def _deciding(self, actor: str, request_id: int) -> Outcome | None:
        row = self.grant_requests[request_id]
        if not self._is_owner(actor, row.creator):
            return Forbidden()
        return decision_refusal("approve", row.status(self.now))

    def approve_grant_request(
        self, *, actor: str, request_id: int, starts_on: datetime.date | None = None,
        ends_on: datetime.date | None = None, scope: frozenset[str] | None = None,
    ) -> Outcome:  # fmt: skip
        """Runs the matching operation of §4 with the proposed period or the edited one: authorize,
        early renewal (a scheduled or active grant) or renewal (an expired one); its rules apply."""
        if refusal := self._deciding(actor, request_id):
            return refusal
        row = self.grant_requests[request_id]
        starts_on = starts_on or row.starts_on
        ends_on = ends_on or row.ends_on
        if row.kind == GRANT_KIND:
            operation = self.authorize(
                actor=actor, creator=row.creator, organization=row.organization, starts_on=starts_on, ends_on=ends_on,
                scope=scope,
            )  # fmt: skip
        else:
            status = self.status(row.grant_id)
            if status in RENEWABLE_EARLY:
                operation = self.renew_early(actor=actor, grant_id=row.grant_id, ends_on=ends_on)
            elif status in RENEWABLE:
                operation = self.renew(
                    actor=actor, grant_id=row.grant_id, starts_on=starts_on or self.today, ends_on=ends_on
                )
            else:
                operation = Refused("not_extendable")
        if not isinstance(operation, Done):
            return operation
        now = self.now

        def apply(grant_id: int) -> None:
            operation.apply(grant_id)
            row.stored, row.decided_at, row.grant_id = APPROVED, now, grant_id

        # The grant operation's own history (and grant) are written too; one message: the approval.
        extra = (("grant_events", 1), ("grants", int(operation.new_row)))
        told = frozenset({self.main_account(row.organization)})
        return Done("approve", apply, extra=extra, notified=told)

    def decline_grant_request(self, *, actor: str, request_id: int, reason: str | None = None) -> Outcome:
        if refusal := self._deciding(actor, request_id):
            return refusal
        if refusal := text_refusal(reason):
            return refusal
        row = self.grant_requests[request_id]
        now = self.now

        def apply(_: int) -> None:
            row.stored, row.decided_at, row.reason = DECLINED, now, (reason or "").strip()

        return Done("decline", apply, notified=frozenset({self.main_account(row.organization)}))

    # --- scopes and delegation (SPEC §12) ----------------------------------------------------------
    def change_scope(self, *, actor: str, grant_id: int, scope: frozenset[str]) -> Outcome:
        """修改授权范围: a scheduled or active grant, at least one part (the code checks the part
        before the status)."""
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if not scope:
            return Refused("empty_scope")
        if self.status(grant_id) not in (SCHEDULED, ACTIVE):
            return Refused("not_changeable")
        told = self._told_of_grant(grant_id)

        def apply(_: int) -> None:
            grant.scope = frozenset(scope)

        return Done("change_scope", apply, notified=told)

    def _main_of_grant(self, actor: str, grant_id: int) -> bool:
        person = self.cast.users[actor]
        return person.main and person.organization == self.grants[grant_id].organization

    def delegate(
        self, *, actor: str, grant_id: int, sub_account: str, ends_on: datetime.date,
        scope: frozenset[str] | None = None,
    ) -> Outcome:  # fmt: skip
        """子账号授权, in the order the code checks: the actor (the grant's organization's main
        account), the creator's permission, the grant's status, the sub-account, the scope, the end,
        an open delegation of the same pair."""
        if not self._main_of_grant(actor, grant_id):
            return Forbidden()
        grant = self.grants[grant_id]
        if not grant.delegation_allowed:
            return Refused("delegation_forbidden")
        if self.status(grant_id) not in (SCHEDULED, ACTIVE):
            return Refused("not_delegable")
        person = self.cast.users[sub_account]
        if person.main or person.creator or self.organization_of(sub_account) != grant.organization:
            return Refused("not_a_sub_account")
        if scope is not None and not scope:
            return Refused("empty_scope")
        scope = grant.scope if scope is None else frozenset(scope)
        if not scope <= grant.scope or ends_on > grant.ends_on:
            return Refused("beyond_grant")
        if ends_on < max(self.today, grant.starts_on):
            return Refused("ends_before_start")
        if any(
            row.grant_id == grant_id and row.sub_account == sub_account and not row.ended and row.ends_on >= self.today
            for row in self.delegations.values()
        ):
            return Refused("already_delegated")

        def apply(delegation_id: int) -> None:
            self.delegations[delegation_id] = DelegationRow(delegation_id, grant_id, sub_account, ends_on, scope)

        return Done("delegate", apply, new_row=True, notified=frozenset({sub_account}))

    def end_delegation(self, *, actor: str, delegation_id: int) -> Outcome:
        row = self.delegations[delegation_id]
        if not self._main_of_grant(actor, row.grant_id):
            return Forbidden()
        if row.ended:
            return Refused("not_ended")

        def apply(_: int) -> None:
            row.ended = True

        return Done("end", apply, notified=frozenset({row.sub_account}))

    def set_delegation_allowed(self, *, actor: str, grant_id: int, allowed: bool) -> Outcome:
        """允许/禁止子账号授权 (any status): forbidding ends every delegation of the grant not yet ended
        (one event and one message each)."""
        grant = self.grants[grant_id]
        if not self._is_owner(actor, grant.creator):
            return Forbidden()
        if grant.delegation_allowed == allowed:
            return Done(None, lambda _: None)  # nothing changes, nothing is written
        ending = (
            [] if allowed else [row for row in self.delegations.values() if row.grant_id == grant_id and not row.ended]
        )

        def apply(_: int) -> None:
            grant.delegation_allowed = allowed
            for row in ending:
                row.ended = True

        told = frozenset(row.sub_account for row in ending)
        extra = (("delegation_events", len(ending)), ("messages", len(ending) - len(told)))
        return Done("allow_delegation" if allowed else "forbid_delegation", apply, extra=extra, notified=told)

    def move_sub_account(self, *, user: str, organization: str) -> None:
        """A sub-account becomes a sub-account of another organization: it loses its delegations
        at once (nothing is written about them)."""
        self.member_of[user] = organization
