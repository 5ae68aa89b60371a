"""Every access decision of the portal: who may see what, right now. The one door.

Decisions are objects: a page asks once and reads the answer's flags; templates read the same
answer instead of re-deciding from ``is_main``, status strings or memberships.

- ``party(user)``: who the user is in the portal and what that allows before any data is asked
  for (manages grants as a creator, sees the organization's full-data grants as its main
  account, may switch perspective). No query: the login backend loads the user with their party.
- ``creator_access(user, creator)`` -> ``CreatorAccess``: which parts of a creator's data
  (``PARTS``, SPEC §12) the user may view now, and the authority it rests on. At most one query.
- ``livestream_access(user, livestream)`` -> ``LivestreamAccess``: the detail page, the modules,
  whether the user's organization may request them, whether the basic section shows only the
  organization's own products, and the authority. At most one query.

Every gated view asks these (``grants.perspective.creator_data_view`` for the creator pages,
``livestreams.views`` for a livestream's pages), the perspective middleware and switcher ask
``creator_access``, and the services that depend on access ask the same functions. The queries
are compiled once (``grants.speedups``); their SQL is the ORM's, from the QuerySet methods that
define the rules.
"""

from __future__ import annotations

import copy
import datetime
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import DatabaseError, OperationalError
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from portal.models import Creator, Membership, Organization, User

from . import access_log, speedups
from .models import (
    FULL_SCOPE,
    PART_LABELS,
    PARTS,
    AccessLogEntry,
    AccessPage,
    Delegation,
    Grant,
    GrantRequest,
    GrantStatus,
    LivestreamAccessRequest,
    parts_of,
    scope_of,
    today,
)

logger = logging.getLogger(__name__)

ALL_PARTS = frozenset(PARTS)
NO_PARTS: frozenset[str] = frozenset()


# --- who the user is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyAccess:
    """What a user's party allows, before any creator's data is asked for."""

    creator: Creator | None = None
    membership: Membership | None = None

    @property
    def organization(self):
        return self.membership.organization if self.membership is not None else None

    @property
    def manages_grants(self) -> bool:
        """A creator manages their own grants and livestream requests."""
        return self.creator is not None

    @property
    def sees_full_data_grants(self) -> bool:
        """Full-data grants, their details and history are for the organization's main account
        only (SPEC §4); sub-accounts see a notice."""
        return self.membership is not None and self.membership.is_main

    @property
    def may_request_full_data(self) -> bool:
        """申请全部带货数据 and 申请续约 (SPEC §9) are the main account's, like the grants themselves."""
        return self.sees_full_data_grants

    @property
    def may_switch(self) -> bool:
        """The perspective switcher: a main account picks a creator whose grant is active, a
        sub-account a creator whose grant its main account delegated to it (SPEC §12)."""
        return self.membership is not None

    @property
    def may_delegate(self) -> bool:
        """子账号授权 (SPEC §12) is the main account's, on its organization's grants."""
        return self.sees_full_data_grants


NOBODY = PartyAccess()


def party(user) -> PartyAccess:
    if user is None or not user.is_authenticated:
        return NOBODY
    return PartyAccess(creator=user.creator_or_none, membership=user.membership_or_none)


def visible_grants(user) -> QuerySet:
    """The grants whose details and history the user may look at: their own as a creator, their
    organization's as its main account; none for anybody else."""
    who = party(user)
    if who.creator is not None:
        return Grant.objects.for_creator(who.creator)
    if who.sees_full_data_grants:
        return Grant.objects.for_organization(who.membership.organization_id)
    return Grant.objects.none()


def visible_grant_requests(user) -> QuerySet:
    """The full-data and extension requests whose details and history the user may look at: those
    made to them as a creator, their organization's as its main account; none for anybody else."""
    who = party(user)
    if who.creator is not None:
        return GrantRequest.objects.for_creator(who.creator)
    if who.sees_full_data_grants:
        return GrantRequest.objects.for_organization(who.membership.organization_id)
    return GrantRequest.objects.none()


# --- a creator's data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatorAccess:
    """What ``user`` may view of ``creator``'s data now.

    ``parts``: the ``PARTS`` they may view (all four for the creator themself, the grant's scope for
    its organization's main account, the delegation's scope within the grant's for a delegate, none
    otherwise). ``authority``: the Grant or Delegation it rests on (None for the creator themself
    and for nobody). ``creator`` is the creator asked about, loaded (None when
    asked by id and refused).
    """

    creator: Creator | None
    parts: frozenset[str] = NO_PARTS
    authority: Any = None
    owner: bool = False
    # Set on a preview (以商家视角预览): what the organization would see, shown to the creator.
    preview: Preview | None = None

    def may_view(self, part: str) -> bool:
        if part not in ALL_PARTS:
            raise ValueError(f"unknown part {part!r}")
        return part in self.parts

    def may_view_any(self, parts) -> bool:
        return any(self.may_view(part) for part in parts)

    def __bool__(self) -> bool:
        return bool(self.parts)

    @property
    def part_labels(self) -> list:
        """The labels of ``parts``, in ``PARTS`` order (数据概览、直播列表 …)."""
        return [PART_LABELS[part] for part in PARTS if part in self.parts]

    @property
    def shows(self) -> dict[str, bool]:
        """``{part: bool}`` for templates (``access.shows.livestreams``)."""
        return {part: part in self.parts for part in PARTS}

    @property
    def ends_on(self):
        """The last day of the authority (the perspective banner shows it); None for the creator."""
        return getattr(self.authority, "ends_on", None)


def _refused(creator) -> CreatorAccess:
    return CreatorAccess(creator=creator if isinstance(creator, Creator) else None)


def _known_membership(user) -> tuple[bool, Membership | None]:
    """The user's membership if already loaded (no query), and whether it was."""
    if User.membership.is_cached(user):
        return True, user.membership_or_none
    return False, None


def _own_creator(user) -> tuple[bool, Creator | None]:
    if User.creator.is_cached(user):
        return True, user.creator_or_none
    return False, None


def grant_parts(grant: Grant, day=None) -> frozenset[str]:
    """The parts a grant opens to its organization's main account on ``day``: its scope while it is
    active, none otherwise."""
    return parts_of(grant.scope) if grant.status_on(day or today()) == GrantStatus.ACTIVE else NO_PARTS


def delegation_parts(delegation: Delegation, day=None, membership=None) -> frozenset[str]:
    """The parts a delegation opens to its sub-account on ``day``: the parts in both its scope and
    its grant's while it is effective (``Delegation.state_on``), none otherwise."""
    if not delegation.is_effective_on(day or today(), membership):
        return NO_PARTS
    return parts_of(delegation.effective_scope())


def _delegated(creator, delegation: Delegation, day, membership=None) -> CreatorAccess:
    parts = delegation_parts(delegation, day, membership)
    if not parts:
        return _refused(creator)
    if isinstance(creator, Creator):
        delegation.grant.creator = creator
    return CreatorAccess(creator=delegation.grant.creator, parts=parts, authority=delegation)


def _grant_answer(grant: Grant, day, **extra) -> CreatorAccess:
    """What ``grant`` opens to its organization's main account on ``day``: the one answer for a
    grant, real (``creator_access``) or hypothetical (``preview_access``)."""
    parts = grant_parts(grant, day)
    return CreatorAccess(creator=grant.creator, parts=parts, authority=grant, **extra)


def creator_access(user, creator: Creator | int) -> CreatorAccess:
    """What ``user`` may view of ``creator``'s data (a Creator, or its id) now. At most one query:
    none for the creator themself, for a user who is not a member of an organization, or for
    anonymous users."""
    if user is None or not user.is_authenticated or creator is None:
        return _refused(creator)
    if isinstance(creator, Creator):
        creator_id = creator.pk
        if creator.user_id == user.pk:
            return CreatorAccess(creator=creator, parts=ALL_PARTS, owner=True)
    else:
        creator_id = creator
        own = user.creator_or_none  # loaded with the user by the login backend: no query
        if own is not None and own.pk == creator_id:
            return CreatorAccess(creator=own, parts=ALL_PARTS, owner=True)
    known, membership = _known_membership(user)
    day = today()
    if known:
        if membership is None:
            return _refused(creator)
        if not membership.is_main:
            found = speedups.DELEGATED_GRANT.objects(
                creator=creator_id, user=user.pk, organization=membership.organization_id, day=day
            )
            delegation = speedups.delegation_of(found[0], user) if found else None
            return _delegated(creator, delegation, day, membership) if delegation else _refused(creator)
        found = speedups.ACTIVE_GRANT.objects(creator=creator_id, organization=membership.organization_id, day=day)
    else:
        found = speedups.ACTIVE_GRANT_OF_MEMBER.objects(creator=creator_id, user=user.pk, day=day)
        if found and not found[0].held_as_main:
            # A member, not the main account: a sub-account of the grant's organization.
            delegation = speedups.delegation_of(found[0], user)
            if delegation is None:
                return _refused(creator)
            sub = Membership(user_id=user.pk, organization_id=found[0].organization_id, role=Membership.Role.SUB)
            return _delegated(creator, delegation, day, sub)
    if not found:
        return _refused(creator)
    grant = found[0]
    if isinstance(creator, Creator):
        grant.creator = creator
    return _grant_answer(grant, day)


def grant_access(user, grant: Grant) -> CreatorAccess:
    """``creator_access`` for a grant already loaded (a row of the organization's list, a grant
    page): what the grant opens to ``user`` today, without a query. Only the organization's main
    account is opened anything by a grant."""
    who = party(user)
    if not who.sees_full_data_grants or who.membership.organization_id != grant.organization_id:
        return CreatorAccess(creator=None)
    parts = grant_parts(grant)
    return CreatorAccess(creator=grant.creator if parts else None, parts=parts, authority=grant if parts else None)


def switchable(user, limit: int) -> list[CreatorAccess]:
    """The creators whose data ``user`` may switch to (the perspective switcher's menu), nearest end
    first, at most ``limit``: for a main account, the creators whose grant to its organization is
    active today; for a sub-account, the creators of its effective delegations. One query (none for
    anybody else)."""
    who = party(user)
    if not who.may_switch:
        return []
    if not who.sees_full_data_grants:
        day = today()
        delegations = (
            Delegation.objects.for_sub_account(user)
            .effective_on(day)
            .select_related("grant__creator")
            .order_by("ends_on", "pk")[:limit]
        )
        answers = (_delegated(None, delegation, day, who.membership) for delegation in delegations)
        return [answer for answer in answers if answer]
    grants = (
        Grant.objects.for_organization(who.membership.organization_id)
        .latest_per_pair()
        .active_on()
        .select_related("creator")
        .order_by("ends_on", "pk")[:limit]
    )
    return [CreatorAccess(creator=grant.creator, parts=grant_parts(grant), authority=grant) for grant in grants]


def creators_viewable(user, creator_ids, part: str) -> set[int]:
    """Which of ``creator_ids`` ``user`` may view ``part`` of through a grant or a delegation (a
    list page's rows): for a main account, the creators whose grant to its organization is active
    today and covers ``part``; for a sub-account, those of its effective delegations covering it.
    One query at most (none for anyone else, or for no ids)."""
    creator_ids = set(creator_ids)
    who = party(user)
    if not creator_ids or who.membership is None or part not in ALL_PARTS:
        return set()
    bit = scope_of([part])
    day = today()
    if who.sees_full_data_grants:
        # Asked per creator (a scalar subquery: one probe of the access index each, which
        # PostgreSQL does not turn into a join), not as one range of the organization's grants: with
        # prepared statements the generic plan for a range, or for an EXISTS it flattens into a
        # join, read every active grant of the organization and filtered it by creator (2,300–3,500
        # rows, 3–4.5 ms for the bench's largest organization, against 0.1 ms).
        granted = (
            Grant.objects.active_on(day)
            .filter(organization_id=who.membership.organization_id, creator_id=OuterRef("pk"))
            .alias(_covers=F("scope").bitand(bit))
            .filter(_covers__gt=0)
        )
        rows = (
            Creator.objects.filter(pk__in=creator_ids)
            .alias(_grant=Subquery(granted.values("pk")[:1]))
            .filter(_grant__isnull=False)
            .order_by()
        )
        return set(rows.values_list("pk", flat=True))
    rows = (
        Delegation.objects.for_sub_account(user)
        .effective_on(day)
        .filter(grant__creator_id__in=creator_ids)
        .alias(_covers=F("scope").bitand(F("grant__scope")).bitand(bit))
        .filter(_covers__gt=0)
    )
    return set(rows.values_list("grant__creator_id", flat=True))


# --- preview (以商家视角预览, SPEC §11) ---------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """A preview's subject: the hypothetical grant (never saved) and the token of its URL."""

    grant: Grant
    token: str

    @property
    def organization(self) -> Organization:
        return self.grant.organization


def _preview_salt(creator_id: int) -> str:
    return f"grants.preview:{creator_id}"


def preview_token(*, creator: Creator, grant: Grant | None = None, organization=None, starts_on=None,
                  ends_on=None, scope=None) -> str:  # fmt: skip
    """The token of a preview URL: an existing grant of ``creator``, or a grant not yet authorized
    (the authorize dialog's organization, dates and scope: PARTS, None for all). Signed, so that it
    cannot be edited into a preview of something else; useless to anyone but the creator
    (``preview_access`` asks)."""
    if grant is not None:
        payload = {"g": grant.pk}
    else:
        payload = {"o": organization.pk, "s": starts_on.isoformat(), "e": ends_on.isoformat()}
        if scope is not None:
            payload["p"] = scope_of(scope)
    return signing.dumps(payload, salt=_preview_salt(creator.pk), compress=True)


def _hypothetical_grant(creator: Creator, payload) -> Grant | None:
    """The unsaved grant a preview token stands for, or None (unknown, another creator's, malformed)."""
    if not isinstance(payload, dict):
        return None
    if "g" in payload:
        grant = Grant.objects.for_creator(creator).select_related("organization").filter(pk=payload["g"]).first()
        if grant is None:
            return None
        # Its period and scope as they are now; as if neither revoked nor expired, so a grant can be
        # previewed at any time (what it opens, not whether it is open today).
        hypothetical = copy.copy(grant)
        hypothetical.revoked_at = None
        hypothetical.creator = creator
        return hypothetical
    try:
        organization = Organization.objects.filter(pk=int(payload["o"])).first()
        starts_on = datetime.date.fromisoformat(payload["s"])
        ends_on = datetime.date.fromisoformat(payload["e"])
        scope = int(payload.get("p", FULL_SCOPE))
    except (KeyError, TypeError, ValueError):
        return None
    if organization is None or ends_on < starts_on or not parts_of(scope):
        return None
    return Grant(creator=creator, organization=organization, starts_on=starts_on, ends_on=ends_on, scope=scope)


def preview_access(user, creator_id: int, token: str) -> CreatorAccess:
    """What the organization of the grant ``token`` stands for would see of ``creator_id``'s data,
    for the creator themself and nobody else (anyone else: refused, the page's 404). The answer is
    ``creator_access``'s for that grant (``_grant_answer``, with ``grant_parts``), asked on a day the
    grant is active (today, or its first day if it has not started, or its last if it has ended)."""
    if user is None or not user.is_authenticated:
        return _refused(creator_id)
    own = user.creator_or_none
    if own is None or own.pk != creator_id:
        return _refused(creator_id)
    try:
        payload = signing.loads(token, salt=_preview_salt(own.pk))
    except signing.BadSignature:
        return _refused(creator_id)
    grant = _hypothetical_grant(own, payload)
    if grant is None:
        return _refused(creator_id)
    day = min(max(today(), grant.starts_on), grant.ends_on)
    answer = _grant_answer(grant, day)
    return CreatorAccess(
        creator=own, parts=answer.parts, authority=answer.authority, preview=Preview(grant=grant, token=token)
    )


# --- the data-access log (数据访问记录, SPEC §11) ----------------------------------------------------


class AccessNotRecorded(OperationalError):
    """The view could not be written to the data-access log: the page is refused (fails closed).

    An ``OperationalError``, so the portal answers it like a database it cannot reach: 503 with
    ``Retry-After`` and "服务暂时不可用" (``portal.views.server_error``), never the data unrecorded."""


def record_view(user, answer, page: str, livestream=None) -> None:
    """Record that ``user`` was just served ``page`` (an ``AccessPage``) of a creator's data under
    ``answer`` (a ``CreatorAccess`` or ``LivestreamAccess``): one upsert.

    Called only where the decision is made, after it opened the page (``livestream_access`` records
    a livestream's pages itself, on PostgreSQL in the statement that decides); nothing is recorded
    for the creator themself, for a preview, or for an answer resting on no authority (a
    cooperating member's own products on a livestream's detail page). A failed write raises
    ``AccessNotRecorded`` (the page fails closed, see README "数据访问记录")."""
    if answer.owner or answer.authority is None or getattr(answer, "preview", None) is not None:
        return
    if access_log.is_disabled():
        return
    membership = user.membership_or_none
    if membership is None:
        return
    authority = answer.authority
    creator_id = livestream.creator_id if livestream is not None else answer.creator.pk
    now = timezone.now()
    try:
        access_log.upsert_view(
            viewer_id=user.pk,
            creator_id=creator_id,
            organization_id=membership.organization_id,
            page=AccessPage(page).value,
            livestream_id=livestream.pk if livestream is not None else None,
            at=now,
            day=timezone.localdate(now),
            grant_id=authority.pk
            if isinstance(authority, Grant)
            else (authority.grant_id if isinstance(authority, Delegation) else None),
            livestream_request_id=authority.pk if isinstance(authority, LivestreamAccessRequest) else None,
            delegation_id=authority.pk if isinstance(authority, Delegation) else None,
        )
    except DatabaseError as error:
        _not_recorded(user, creator_id, page, error)


def _not_recorded(user, creator_id: int, page: str, error) -> None:
    logger.error(
        "access log not written, page refused: user=%s creator=%s page=%s error=%s",
        user.pk, creator_id, page, error if isinstance(error, str) else type(error).__name__,
    )  # fmt: skip
    raise AccessNotRecorded("the view could not be recorded") from (error if isinstance(error, Exception) else None)


def access_log_rows(user) -> QuerySet | None:
    """The data-access log rows ``user`` may read: a creator's own (who looked at their data), an
    organization's main account's organization's (what its people looked at); None for anyone else."""
    who = party(user)
    if who.creator is not None:
        return AccessLogEntry.objects.for_creator(who.creator)
    if who.sees_full_data_grants:
        return AccessLogEntry.objects.for_organization(who.membership.organization_id)
    return None


def can_view_creator_data(user, creator) -> bool:
    """The creator themself, or the main account of an organization whose grant is active today."""
    return creator_access(user, creator).may_view("overview")


# --- one livestream --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LivestreamAccess:
    """What ``user`` may see of one livestream.

    ``detail``: the detail page (basic data): the creator, members of an organization that
    cooperated in it, and anyone who may view the modules. ``modules``: its three modules.
    ``cooperating``: the user's organization cooperated in it (its products sold there), which is
    what lets it request the modules (SPEC §5). ``authority``: the approved request or the grant
    that opens the modules (None for the creator and when closed).
    """

    detail: bool = False
    modules: bool = False
    cooperating: bool = False
    authority: Any = None
    owner: bool = False

    @property
    def may_request(self) -> bool:
        """The page offers 解锁更多数据 (and its dialog answers): the organization cooperated and its
        modules are not already opened by a full-data grant. The request service then answers
        (a pending request returned, an approved one refused with ``already_approved``)."""
        return self.cooperating and not isinstance(self.authority, Grant | Delegation)

    @property
    def own_products_only(self) -> bool:
        """The basic section shows only the organization's own products: a cooperating
        organization (SPEC §5); the creator and a grant holder see the whole livestream."""
        return self.cooperating


NO_LIVESTREAM_ACCESS = LivestreamAccess()


def _own_livestream(user, livestream) -> bool | None:
    """True/False without a query when the user's creator or the livestream's creator is loaded."""
    known, own = _own_creator(user)
    if known:
        return own is not None and own.pk == livestream.creator_id
    if type(livestream).creator.is_cached(livestream):
        return livestream.creator.user_id == user.pk
    return None


def _lazy(model, pk):
    """An instance of ``model`` known by its primary key only; its fields load when first read."""
    return model.from_db(None, ["id"], [pk]) if pk is not None else None


def livestream_access(user, livestream, page: str | None = None) -> LivestreamAccess:
    """What ``user`` may see of ``livestream``, in one query at most (none for its creator).

    ``page``: the data page about to be served (an ``AccessPage``): the view is recorded in the
    data-access log when the answer rests on an authority (``record_view``). On PostgreSQL, for a
    member, the answer and its record are one statement (``speedups.LIVESTREAM_ACCESS_RECORDED``),
    or the statement that read the livestream too (``livestream_and_access``, whose columns it then
    reads); what it recorded is checked against the answer derived here, and a difference refuses
    the page (``AccessNotRecorded``) like a failed write."""
    if user is None or not user.is_authenticated or livestream is None:
        return NO_LIVESTREAM_ACCESS
    own = _own_livestream(user, livestream)
    if own:
        return LivestreamAccess(detail=True, modules=True, owner=True)
    read = _answer_read_with_row(user, livestream, page) if own is False else None
    if read is not None:
        return read
    values = {"user": user.pk, "livestream": livestream.pk, "creator": livestream.creator_id, "day": today()}
    if page is not None and own is False and access_log.records_with_answer():
        rows, recorded = _answer_recorded(user, livestream, page, values)
        answer = _livestream_answer(rows)
        _check_recorded(user, livestream, page, answer, recorded)
        return answer
    check = speedups.LIVESTREAM_ACCESS_OF_ANYONE if own is None else speedups.LIVESTREAM_ACCESS_OF_MEMBER
    answer = _livestream_answer(check.rows(**values))
    if page is not None:
        record_view(user, answer, page, livestream=livestream)
    return answer


def livestream_and_access(user, livestream_id: int, row_query, page: str | None = None):
    """``(livestream, answer)``: the livestream ``livestream_id`` as ``row_query`` reads it (a
    compiled query of the livestream's row by id, ``livestream="id"``; its one instance, or None if
    there is none) and ``livestream_access``'s answer for it (``NO_LIVESTREAM_ACCESS`` for none).

    For a data page (``page``) of a member on PostgreSQL, the row, the answer and the view's record
    are one statement (``speedups.livestream_row_access_recorded``), and ``livestream_access``
    derives the answer from its columns and checks what it recorded. Otherwise the row, then
    ``livestream_access``."""
    known, own = _own_creator(user) if user is not None and user.is_authenticated else (False, None)
    if page is not None and known and own is None and access_log.records_with_answer():
        return _row_answer_recorded(user, livestream_id, row_query, page)
    found = row_query.objects(livestream=livestream_id)
    if not found:
        return None, NO_LIVESTREAM_ACCESS
    return found[0], livestream_access(user, found[0], page=page)


def _row_answer_recorded(user, livestream_id: int, row_query, page: str):
    connection = access_log.connection()
    now, day = timezone.now(), today()
    statement = speedups.livestream_row_access_recorded(row_query)
    alias = connection.alias
    extra = statement.answer.bound(alias, user=user.pk, livestream=livestream_id, day=day)
    extra += access_log.row_recorded_params(
        connection, viewer_id=user.pk, page=AccessPage(page).value, livestream_id=livestream_id, at=now,
        day=timezone.localdate(now),
    )  # fmt: skip
    try:
        found = statement.statements[not connection.in_atomic_block].objects_and_rest(
            extra=extra, livestream=livestream_id
        )
    except DatabaseError as error:
        _not_recorded(user, None, page, error)
    if not found:
        return None, NO_LIVESTREAM_ACCESS
    livestream, rest = found[-1]
    # The answer is still ``livestream_access``'s (the one door): it reads the statement's columns
    # instead of asking again.
    token = _read_with_row.set((user.pk, livestream.pk, page, rest))
    try:
        return livestream, livestream_access(user, livestream, page=page)
    finally:
        _read_with_row.reset(token)


# (user id, livestream id, page, the statement's answer and record columns) while
# ``livestream_and_access`` hands its statement's answer to ``livestream_access``.
_read_with_row: ContextVar[tuple | None] = ContextVar("livestream_answer_read_with_row", default=None)


def _answer_read_with_row(user, livestream, page) -> LivestreamAccess | None:
    read = _read_with_row.get()
    if read is None or read[:3] != (user.pk, livestream.pk, page):
        return None
    rest = read[3]
    rows = [rest[:5]] if rest[0] is not None else []  # owner is False for a member, NULL for none
    answer = _livestream_answer(rows)
    _check_recorded(user, livestream, page, answer, access_log.recorded(*rest[5:8]))
    return answer


def _livestream_answer(rows) -> LivestreamAccess:
    if any(row[0] for row in rows):
        return LivestreamAccess(detail=True, modules=True, owner=True)
    if not rows:
        return NO_LIVESTREAM_ACCESS
    _owner, request_id, grant_code, cooperating, main = rows[-1][:5]
    grant_id, scope = divmod(grant_code, speedups.CODE) if grant_code is not None else (None, 0)
    parts = parts_of(scope)
    # A full-data grant (or a delegation of one: then ``grant_id`` is the delegation's) whose scope
    # covers the modules opens every livestream of the creator: it is the authority even where the
    # organization's request was approved too (nothing is left to request then). A scope without
    # the modules opens them only through an approved request; a scope with the livestream list
    # opens the detail pages.
    if "modules" in parts:
        authority = _lazy(Grant if main else Delegation, grant_id)
    else:
        authority = _lazy(LivestreamAccessRequest, request_id)
    modules = authority is not None
    return LivestreamAccess(
        detail=modules or bool(cooperating) or "livestreams" in parts,
        modules=modules,
        cooperating=bool(cooperating),
        authority=authority,
    )


def _answer_recorded(user, livestream, page: str, values: dict):
    """The member's answer for ``livestream`` and the view of ``page`` recorded, in one statement:
    (the answer's rows, what was recorded: ``(grant id, request id, delegation id)``, or ``()``
    for nothing)."""
    connection = access_log.connection()
    now = timezone.now()
    extra = access_log.recorded_params(
        connection, viewer_id=user.pk, creator_id=livestream.creator_id, page=AccessPage(page).value,
        livestream_id=livestream.pk, at=now, day=timezone.localdate(now),
    )  # fmt: skip
    query = speedups.LIVESTREAM_ACCESS_RECORDED[not connection.in_atomic_block]
    try:
        rows = query.rows(extra=extra, **values)
    except DatabaseError as error:
        _not_recorded(user, livestream.creator_id, page, error)
    if not rows:
        return rows, ()
    return rows, access_log.recorded(*rows[-1][5:8])


def _check_recorded(user, livestream, page: str, answer: LivestreamAccess, recorded) -> None:
    """The row the statement wrote must be the one ``record_view`` would have written for
    ``answer``: under its authority (the grant, the request, or the delegation with its grant), or
    none without one."""
    authority = answer.authority
    if authority is None:
        expected = ()
    elif isinstance(authority, Grant):
        expected = (authority.pk, None, None)
    elif isinstance(authority, LivestreamAccessRequest):
        expected = (None, authority.pk, None)
    else:  # a Delegation, known by its id: the statement read its grant
        expected = (recorded[0] if recorded and recorded[0] is not None else "its grant", None, authority.pk)
    if recorded != expected:
        _not_recorded(user, livestream.creator_id, page, f"recorded {recorded}, answer {expected}")


def can_view_livestream_modules(user, livestream) -> bool:
    """The three modules: the creator; any member of an organization whose request was approved;
    the main account of an organization holding an active full-data grant from the creator whose
    scope covers the modules, and a sub-account it delegated them to."""
    return livestream_access(user, livestream).modules
