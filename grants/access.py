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
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import DatabaseError, OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from portal.models import Creator, Membership, Organization, User

from . import access_log, speedups
from .models import AccessLogEntry, AccessPage, Grant, GrantRequest, GrantStatus, LivestreamAccessRequest, today

logger = logging.getLogger(__name__)

PARTS = ("overview", "products", "livestreams", "modules")
"""What a full-data grant covers (SPEC §12): 数据概览 (KPIs, daily trend), 商品与店铺 (top products and
shops), 直播列表 (the livestream list and its CSV), 直播间模块 (the three modules of every livestream)."""
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
        """The perspective switcher: a main account picks a creator whose grant is active."""
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

    ``parts``: the ``PARTS`` they may view (all four for the creator themself, the grant's for its
    organization's main account, none otherwise). ``authority``: the grant it rests on (None for
    the creator themself and for nobody). ``creator`` is the creator asked about, loaded (None when
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
    """The parts a grant opens to its organization's main account on ``day``: all of them while it
    is active, none otherwise."""
    return ALL_PARTS if grant.status_on(day or today()) == GrantStatus.ACTIVE else NO_PARTS


def _grant_answer(grant: Grant, day, **extra) -> CreatorAccess:
    """What ``grant`` opens to its organization's main account on ``day``: the one answer for a
    grant, real (``creator_access``) or hypothetical (``preview_access``)."""
    parts = grant_parts(grant, day)
    return CreatorAccess(creator=grant.creator, parts=parts, authority=grant, **extra)


def creator_access(user, creator: Creator | int) -> CreatorAccess:
    """What ``user`` may view of ``creator``'s data (a Creator, or its id) now. At most one query:
    none for the creator themself, for a user who is not a main account, or for anonymous users."""
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
        if membership is None or not membership.is_main:
            return _refused(creator)
        found = speedups.ACTIVE_GRANT.objects(creator=creator_id, organization=membership.organization_id, day=day)
    else:
        found = speedups.ACTIVE_GRANT_OF_MAIN_ACCOUNT.objects(creator=creator_id, user=user.pk, day=day)
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
    active today. One query (none for anybody else)."""
    who = party(user)
    if not who.may_switch:
        return []
    grants = (
        Grant.objects.for_organization(who.membership.organization_id)
        .latest_per_pair()
        .active_on()
        .select_related("creator")
        .order_by("ends_on", "pk")[:limit]
    )
    return [CreatorAccess(creator=grant.creator, parts=grant_parts(grant), authority=grant) for grant in grants]


def creators_viewable(user, creator_ids, part: str) -> set[int]:
    """Which of ``creator_ids`` ``user`` may view ``part`` of through a grant (a list page's rows):
    for a main account, the creators whose grant to its organization is active today. One query at
    most (none for anyone but a main account, or for no ids)."""
    creator_ids = set(creator_ids)
    who = party(user)
    if not creator_ids or not who.sees_full_data_grants or part not in ALL_PARTS:
        return set()
    return set(
        Grant.objects.active_on(today())
        .filter(organization_id=who.membership.organization_id, creator_id__in=creator_ids)
        .values_list("creator_id", flat=True)
    )


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
                  ends_on=None) -> str:  # fmt: skip
    """The token of a preview URL: an existing grant of ``creator``, or a period not yet authorized
    (the authorize dialog's organization and dates). Signed, so that it cannot be edited into a
    preview of something else; useless to anyone but the creator (``preview_access`` asks)."""
    if grant is not None:
        payload = {"g": grant.pk}
    else:
        payload = {"o": organization.pk, "s": starts_on.isoformat(), "e": ends_on.isoformat()}
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
    except (KeyError, TypeError, ValueError):
        return None
    if organization is None or ends_on < starts_on:
        return None
    return Grant(creator=creator, organization=organization, starts_on=starts_on, ends_on=ends_on)


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


def record_view(request, answer, page: str, livestream=None) -> None:
    """Record that ``request.user`` was just served ``page`` (an ``AccessPage``) of a creator's data
    under ``answer`` (a ``CreatorAccess`` or ``LivestreamAccess``): one upsert.

    Called only where the decision is made, after it opened the page; nothing is recorded for the
    creator themself, for a preview, or for an answer resting on no authority (a cooperating
    member's own products on a livestream's detail page). A failed write raises
    ``AccessNotRecorded`` (the page fails closed, see README "数据访问记录")."""
    if answer.owner or answer.authority is None or getattr(answer, "preview", None) is not None:
        return
    if access_log.is_disabled():
        return
    user = request.user
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
            grant_id=authority.pk if isinstance(authority, Grant) else None,
            livestream_request_id=authority.pk if isinstance(authority, LivestreamAccessRequest) else None,
        )
    except DatabaseError as error:
        logger.error(
            "access log not written, page refused: user=%s creator=%s page=%s error=%s",
            user.pk, creator_id, page, type(error).__name__,
        )  # fmt: skip
        raise AccessNotRecorded("the view could not be recorded") from error


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
        return self.cooperating and not isinstance(self.authority, Grant)

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


def livestream_access(user, livestream) -> LivestreamAccess:
    """What ``user`` may see of ``livestream``, in one query at most (none for its creator)."""
    if user is None or not user.is_authenticated or livestream is None:
        return NO_LIVESTREAM_ACCESS
    own = _own_livestream(user, livestream)
    if own:
        return LivestreamAccess(detail=True, modules=True, owner=True)
    check = speedups.LIVESTREAM_ACCESS_OF_ANYONE if own is None else speedups.LIVESTREAM_ACCESS_OF_MEMBER
    rows = check.rows(user=user.pk, livestream=livestream.pk, creator=livestream.creator_id, day=today())
    if any(row[0] for row in rows):
        return LivestreamAccess(detail=True, modules=True, owner=True)
    if not rows:
        return NO_LIVESTREAM_ACCESS
    _owner, request_id, grant_id, cooperating = rows[-1]
    # A main account's full-data grant opens every livestream of the creator: it is the authority
    # even where the organization's request was approved too (nothing is left to request then).
    authority = _lazy(Grant, grant_id) if grant_id is not None else _lazy(LivestreamAccessRequest, request_id)
    modules = authority is not None
    return LivestreamAccess(
        detail=modules or bool(cooperating), modules=modules, cooperating=bool(cooperating), authority=authority
    )


def can_view_livestream_modules(user, livestream) -> bool:
    """The three modules: the creator; any member of an organization whose request was approved;
    the main account of an organization holding an active full-data grant from the creator."""
    return livestream_access(user, livestream).modules
