"""Every rule of SPEC §4–§5: the only place that changes grants and livestream access requests.

Each service is keyword-only, runs in one transaction, locks the row it changes
(``select_for_update``), lets the model's guard decide, refuses with ``ValidationError`` (with a
``code``) or ``PermissionDenied``, writes exactly one history event, and returns the object.
Nothing is written when it refuses.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.models import Creator, Organization

from . import access
from .models import (
    Grant,
    GrantEvent,
    GrantStatus,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    RequestStatus,
    today,
)

# --- refusals -------------------------------------------------------------------------------


def _refuse(code: str, message: str, field: str | None = None) -> ValidationError:
    error = ValidationError(message, code=code)
    return ValidationError({field: error}) if field else error


def _require_creator(creator: Creator, actor) -> None:
    """Only the creator who owns the grant may operate on it."""
    if actor is None or not actor.is_authenticated or creator.user_id != actor.pk:
        raise PermissionDenied(_("只有授权的达人本人可以执行此操作。"))


def _check_period(starts_on: datetime.date, ends_on: datetime.date, day: datetime.date) -> None:
    if starts_on < day:
        raise _refuse("starts_in_past", _("开始日期不能早于今天（%(today)s）。") % {"today": _d(day)}, "starts_on")
    if ends_on < starts_on:
        raise _refuse("ends_before_start", _("截止日期不能早于开始日期。"), "ends_on")


def _d(day: datetime.date) -> str:
    return date_format(day, "Y-m-d")


def _lock(grant: Grant) -> Grant:
    """Re-read the grant under a row lock, so two operations on it are serialized."""
    return Grant.objects.select_for_update().select_related("creator", "organization").get(pk=grant.pk)


# --- full-data grants -----------------------------------------------------------------------


@transaction.atomic
def authorize(
    *, creator: Creator, organization: Organization, starts_on: datetime.date, ends_on: datetime.date, actor
) -> Grant:
    """授权: a new grant, for an organization with no scheduled, active or expired grant (never
    granted, or only revoked ones)."""
    _require_creator(creator, actor)
    day = today()
    # Serialize this creator's authorizations: the pair may have no row yet to lock.
    Creator.objects.select_for_update().filter(pk=creator.pk).exists()
    existing = Grant.objects.for_creator(creator).for_organization(organization).not_revoked().first()
    if existing is not None:
        raise _existing_grant_refusal(existing, day)
    _check_period(starts_on, ends_on, day)
    Grant.objects.for_creator(creator).for_organization(organization).latest_per_pair().update(is_latest=False)
    grant = Grant(creator=creator, organization=organization, starts_on=starts_on, ends_on=ends_on)
    grant.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            grant.save()
    except IntegrityError as error:  # a concurrent authorization of the same pair won the race
        raise _refuse("already_granted", _("该商家/机构已有未解除的授权。")) from error
    _record(grant, GrantEvent.Operation.AUTHORIZE, actor, after=grant)
    return grant


def _existing_grant_refusal(grant: Grant, day: datetime.date) -> ValidationError:
    status = grant.status_on(day)
    hint = {
        GrantStatus.SCHEDULED: _("该商家/机构已有待生效的授权，可提前续约或解除授权。"),
        GrantStatus.ACTIVE: _("该商家/机构已有生效中的授权，可提前续约或解除授权。"),
        GrantStatus.EXPIRED: _("该商家/机构的授权已到期，请使用续约。"),
    }[status]
    return _refuse("already_granted", hint, "organization")


@transaction.atomic
def revoke(*, grant: Grant, actor) -> Grant:
    """解除授权: from scheduled or active to revoked, effective at once."""
    _require_creator(grant.creator, actor)
    grant = _lock(grant)
    if not grant.can_revoke():
        raise _refuse("not_revocable", _("只能解除待生效或生效中的授权（当前：%(status)s）。") % _status(grant))
    before = (grant.starts_on, grant.ends_on)
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor
    grant.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    _record(grant, GrantEvent.Operation.REVOKE, actor, before=before, after=grant)
    return grant


@transaction.atomic
def renew_early(*, grant: Grant, ends_on: datetime.date, actor) -> Grant:
    """提前续约: a scheduled or active grant's end moves out; the renewal period starts tomorrow
    (fixed), ``starts_on`` stays, and access stays continuous."""
    _require_creator(grant.creator, actor)
    grant = _lock(grant)
    day = today()
    if not grant.can_renew_early(day):
        raise _refuse(
            "not_renewable_early", _("只能对待生效或生效中的授权提前续约（当前：%(status)s）。") % _status(grant)
        )
    if ends_on <= grant.ends_on:
        raise _refuse(
            "end_not_later",
            _("新的截止日期必须晚于当前截止日期（%(ends_on)s）。") % {"ends_on": _d(grant.ends_on)},
            "ends_on",
        )
    before = (grant.starts_on, grant.ends_on)
    grant.ends_on = ends_on
    grant.full_clean(validate_constraints=False)
    grant.save(update_fields=["ends_on", "updated_at"])
    _record(
        grant, GrantEvent.Operation.RENEW_EARLY, actor, before=before, after=grant,
        renewal_starts_on=day + datetime.timedelta(days=1),
    )  # fmt: skip
    return grant


@transaction.atomic
def renew(*, grant: Grant, starts_on: datetime.date, ends_on: datetime.date, actor) -> Grant:
    """续约: an expired grant takes a new period (and becomes scheduled or active)."""
    _require_creator(grant.creator, actor)
    grant = _lock(grant)
    day = today()
    if not grant.can_renew(day):
        raise _refuse("not_expired", _("只能对已到期的授权续约（当前：%(status)s）。") % _status(grant))
    _check_period(starts_on, ends_on, day)
    before = (grant.starts_on, grant.ends_on)
    grant.starts_on, grant.ends_on = starts_on, ends_on
    grant.full_clean(validate_constraints=False)
    grant.save(update_fields=["starts_on", "ends_on", "updated_at"])
    _record(grant, GrantEvent.Operation.RENEW, actor, before=before, after=grant)
    return grant


def _status(grant: Grant) -> dict:
    return {"status": grant.status.label}


def _record(grant: Grant, operation: str, actor, *, before=None, after: Grant, renewal_starts_on=None) -> GrantEvent:
    starts_before, ends_before = before or (None, None)
    return GrantEvent.objects.create(
        grant=grant,
        operation=operation,
        actor=actor,
        starts_before=starts_before,
        ends_before=ends_before,
        starts_after=after.starts_on,
        ends_after=after.ends_on,
        renewal_starts_on=renewal_starts_on,
    )


# --- single-livestream access requests --------------------------------------------------------


@transaction.atomic
def request_livestream_access(*, livestream, actor) -> LivestreamAccessRequest:
    """解锁更多数据: the actor's organization asks to view the livestream's modules.

    Only members (main or sub) of an organization that cooperated in the livestream may ask. While a
    request is pending, that one is returned and nothing new is written; while access is approved,
    the request is refused (``already_approved``). After a decline or a revoke, a new one is made.
    """
    if not access.livestream_access(actor, livestream).cooperating:
        raise PermissionDenied(_("只有参与该直播合作的商家/机构可以申请。"))
    organization_id = actor.membership_or_none.organization_id
    existing = _open_request(livestream, organization_id, lock=True)
    if existing is not None:
        if existing.status == RequestStatus.APPROVED:
            raise _refuse("already_approved", _("该直播间数据已授权，无需再次申请。"))
        return existing
    access_request = LivestreamAccessRequest(
        livestream=livestream, creator_id=livestream.creator_id, organization_id=organization_id, requested_by=actor
    )
    try:
        with transaction.atomic():
            access_request.save()
    except IntegrityError:  # a colleague's request for the same livestream was saved first
        existing = _open_request(livestream, organization_id, lock=True)
        if existing is None:
            raise
        if existing.status == RequestStatus.APPROVED:
            raise _refuse("already_approved", _("该直播间数据已授权，无需再次申请。")) from None
        return existing
    _record_request(access_request, LivestreamAccessEvent.Operation.REQUEST, actor)
    return access_request


def _open_request(livestream, organization_id: int, *, lock: bool) -> LivestreamAccessRequest | None:
    requests = LivestreamAccessRequest.objects.for_livestream(livestream).filter(organization_id=organization_id).open()
    if lock:
        requests = requests.select_for_update()
    return requests.first()


def _lock_request(access_request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """Only the livestream's creator decides; re-read the request under a row lock."""
    locked = (
        LivestreamAccessRequest.objects.select_for_update(of=("self",))
        .select_related("livestream__creator", "organization")
        .get(pk=access_request.pk)
    )
    if actor is None or not actor.is_authenticated or locked.livestream.creator.user_id != actor.pk:
        raise PermissionDenied(_("只有该直播的达人本人可以处理申请。"))
    return locked


def _decide(access_request, actor, *, allowed: bool, status: str, operation: str, code: str, message: str):
    if not allowed:
        raise _refuse(code, message % {"status": access_request.get_status_display()})
    access_request.status = status
    access_request.decided_at = timezone.now()
    access_request.decided_by = actor
    access_request.save(update_fields=["status", "decided_at", "decided_by", "updated_at"])
    _record_request(access_request, operation, actor)
    return access_request


@transaction.atomic
def approve_livestream_request(*, request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """授权: pending → approved; every member of the organization can view the modules at once."""
    access_request = _lock_request(request, actor)
    return _decide(
        access_request, actor, allowed=access_request.can_decide(), status=RequestStatus.APPROVED,
        operation=LivestreamAccessEvent.Operation.APPROVE, code="not_pending",
        message=_("只能处理待审批的申请（当前：%(status)s）。"),
    )  # fmt: skip


@transaction.atomic
def decline_livestream_request(*, request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """拒绝: pending → declined; the organization may ask again."""
    access_request = _lock_request(request, actor)
    return _decide(
        access_request, actor, allowed=access_request.can_decide(), status=RequestStatus.DECLINED,
        operation=LivestreamAccessEvent.Operation.DECLINE, code="not_pending",
        message=_("只能处理待审批的申请（当前：%(status)s）。"),
    )  # fmt: skip


@transaction.atomic
def revoke_livestream_access(*, request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """解除授权: approved → revoked, effective at once; the organization may ask again."""
    access_request = _lock_request(request, actor)
    return _decide(
        access_request, actor, allowed=access_request.can_revoke(), status=RequestStatus.REVOKED,
        operation=LivestreamAccessEvent.Operation.REVOKE, code="not_approved",
        message=_("只能解除已授权的申请（当前：%(status)s）。"),
    )  # fmt: skip


def _record_request(access_request, operation: str, actor) -> LivestreamAccessEvent:
    return LivestreamAccessEvent.objects.create(request=access_request, operation=operation, actor=actor)


# --- a livestream given to another creator -------------------------------------------------------


@transaction.atomic
def end_livestream_access(
    *, livestream_ids: Iterable[int], creator_id: int, actor=None
) -> list[LivestreamAccessRequest]:
    """已失效: pending or approved → ended, for every open request of ``livestream_ids`` made to a
    creator other than ``creator_id``, the livestreams' new creator; one history event (``end``)
    each. Returns the ended requests.

    A livestream that changes creator (an import naming another creator, staff in the admin: the
    writers of ``livestreams.writes`` call this in their transaction) takes none of its former
    creator's decisions with it: an approval given by the former creator no longer opens the
    modules (of what is now another creator's data), and a pending request made to the former
    creator is not left for the new one to find. Each request stays with the creator it was made to
    (its ``creator`` copy is not moved), so the new creator never sees approvals they did not give;
    the organization may ask the new creator again. ``actor``: the staff member who moved the
    livestream, None for an import. Ids in, so grants needs nothing of livestreams.
    """
    ended = list(
        LivestreamAccessRequest.objects.select_for_update()
        .filter(livestream_id__in=list(livestream_ids))
        .open()
        .exclude(creator_id=creator_id)
        .order_by("pk")
    )
    if not ended:
        return []
    now = timezone.now()
    LivestreamAccessRequest.objects.filter(pk__in=[r.pk for r in ended]).update(
        status=RequestStatus.ENDED, updated_at=now
    )
    LivestreamAccessEvent.objects.bulk_create(
        LivestreamAccessEvent(request=r, operation=LivestreamAccessEvent.Operation.END, actor=actor, at=now)
        for r in ended
    )
    # The inbox (SPEC §10, "livestream access revoked"): one message per ended request, to the
    # organization's main account and to the requester, belongs here, in this transaction.
    for access_request in ended:
        access_request.status = RequestStatus.ENDED
        access_request.updated_at = now
    return ended
