"""Full-data and extension requests: request, approve, decline (SPEC §9)."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.models import Creator, Organization

from .. import access, notices
from ..models import (
    ASK_AGAIN_AFTER,
    LIVE_STATUSES,
    MAX_REQUEST_DAYS,
    Grant,
    GrantRequest,
    GrantRequestEvent,
    GrantRequestStatus,
    GrantStatus,
    today,
)

# --- full-data and extension requests (SPEC §9) --------------------------------------------------
from .common import _check_period, _d, _lock, _lock_creator, _refuse
from .delegations import _change_scope
from .grants import _authorize, _renew, _renew_early, _scope
from .livestream_requests import _check_text, _close_expired, _refuse_decision


def _requesting_organization(actor) -> Organization:
    """Full-data and extension requests are made by an organization's main account."""
    who = access.party(actor)
    if not who.may_request_full_data:
        raise PermissionDenied(_("只有商家/机构的主账号可以申请全部带货数据。"))
    return who.membership.organization


def _check_proposal(starts_on: datetime.date, ends_on: datetime.date, day: datetime.date) -> None:
    """A proposed period: the §4 rules of a new period, and at most MAX_REQUEST_DAYS days."""
    _check_period(starts_on, ends_on, day)
    if (ends_on - starts_on).days + 1 > MAX_REQUEST_DAYS:
        raise _refuse("period_too_long", _("申请的期限最长 %(days)s 天。") % {"days": MAX_REQUEST_DAYS}, "ends_on")


def _pending_request(requests) -> GrantRequest | None:
    """The pending request among ``requests`` (locked), or None. An expired one is closed first
    (stored "expired", no event), so the one-pending constraint lets a new one in."""
    found = requests.stored_pending().select_for_update().first()
    if found is None:
        return None
    if found.is_expired:
        _close_expired(found)
        return None
    return found


def _refuse_pending() -> ValidationError:
    return _refuse("pending_exists", _("已有待审批的申请，请等待达人处理（7 天内未处理将自动过期）。"))


def _insert_request(grant_request: GrantRequest, actor) -> GrantRequest:
    grant_request.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            grant_request.save()
    except IntegrityError as error:  # a concurrent request of the same kind was saved first
        raise _refuse_pending() from error
    _record_grant_request(grant_request, GrantRequestEvent.Operation.REQUEST, actor, grant_request)
    notices.grant_request_received(grant_request)
    return grant_request


@transaction.atomic
def request_grant(
    *, creator: Creator, starts_on: datetime.date, ends_on: datetime.date, actor, message: str = ""
) -> GrantRequest:
    """申请全部带货数据: the actor's organization (its main account) asks the creator for a
    full-data grant for the proposed period (``starts_on`` >= today, at most 366 days).

    Refused when the creator could not authorize the organization (``already_granted``: a
    scheduled, active or expired grant; an expired one asks with an extension request), while a
    request is pending (``pending_exists``), and within 7 days of a decline (``too_soon``).
    """
    organization = _requesting_organization(actor)
    _lock_creator(creator.pk)
    day = today()
    existing = Grant.objects.for_creator(creator).for_organization(organization).not_revoked().first()
    if existing is not None:
        hint = (
            _("该达人对本机构的授权已到期，请在授权列表中申请续约。")
            if existing.status_on(day) == GrantStatus.EXPIRED
            else _("该达人已授权本机构（%(status)s），可在授权列表中申请续约。")
            % {"status": existing.status_on(day).label}
        )
        raise _refuse("already_granted", hint, "creator")
    requests = GrantRequest.objects.between(creator, organization).of_kind(GrantRequest.Kind.GRANT)
    if _pending_request(requests) is not None:
        raise _refuse_pending()
    declined = requests.declined_after(timezone.now() - ASK_AGAIN_AFTER).order_by("-decided_at").first()
    if declined is not None:
        again = timezone.localtime(declined.decided_at + ASK_AGAIN_AFTER)
        raise _refuse(
            "too_soon", _("达人已拒绝本机构的申请，%(when)s 后可再次申请。") % {"when": date_format(again, "Y-m-d H:i")}
        )
    _check_proposal(starts_on, ends_on, day)
    message = _check_text(message, "message")
    grant_request = GrantRequest(
        creator=creator, organization=organization, kind=GrantRequest.Kind.GRANT, starts_on=starts_on,
        ends_on=ends_on, message=message, requested_by=actor,
    )  # fmt: skip
    return _insert_request(grant_request, actor)


@transaction.atomic
def request_extension(
    *, grant: Grant, ends_on: datetime.date, actor, starts_on: datetime.date | None = None, message: str = ""
) -> GrantRequest:
    """申请续约: the grant's organization (its main account) proposes a new end for a scheduled or
    active grant (later than the current end, by at most 366 days; the renewal would start the day
    after approval, so ``starts_on`` is not asked), or a new period for an expired one (today or
    later, at most 366 days; ``starts_on`` defaults to today). One pending extension per grant."""
    organization = _requesting_organization(actor)
    if grant.organization_id != organization.pk:
        raise PermissionDenied(_("只能为本机构的授权申请续约。"))
    _lock_creator(grant.creator_id)
    grant = Grant.objects.select_related("creator", "organization").get(pk=grant.pk)
    day = today()
    status = grant.status_on(day)
    if status == GrantStatus.REVOKED or not grant.is_latest:
        raise _refuse("not_extendable", _("已解除的授权不能续约，请重新申请全部带货数据。"))
    requests = GrantRequest.objects.between(grant.creator, organization).of_kind(GrantRequest.Kind.EXTENSION)
    if _pending_request(requests) is not None:
        raise _refuse_pending()
    if status in LIVE_STATUSES:
        starts_on = None
        if ends_on <= grant.ends_on:
            raise _refuse(
                "end_not_later",
                _("新的截止日期必须晚于当前截止日期（%(ends_on)s）。") % {"ends_on": _d(grant.ends_on)},
                "ends_on",
            )
        if (ends_on - grant.ends_on).days > MAX_REQUEST_DAYS:
            raise _refuse("period_too_long", _("续约最多延长 %(days)s 天。") % {"days": MAX_REQUEST_DAYS}, "ends_on")
    else:
        starts_on = starts_on or day
        _check_proposal(starts_on, ends_on, day)
    message = _check_text(message, "message")
    grant_request = GrantRequest(
        creator=grant.creator, organization=organization, kind=GrantRequest.Kind.EXTENSION, grant=grant,
        starts_on=starts_on, ends_on=ends_on, message=message, requested_by=actor,
    )  # fmt: skip
    return _insert_request(grant_request, actor)


def _lock_grant_request(grant_request: GrantRequest, actor) -> GrantRequest:
    """Only the creator asked decides; re-read the request under a row lock (its creator's first)."""
    _lock_creator(grant_request.creator_id)
    locked = (
        GrantRequest.objects.select_for_update(of=("self",))
        .select_related("creator", "organization")
        .get(pk=grant_request.pk)
    )
    if actor is None or not actor.is_authenticated or locked.creator.user_id != actor.pk:
        raise PermissionDenied(_("只有被申请的达人本人可以处理申请。"))
    if not locked.can_decide():
        raise _refuse_decision(locked)
    return locked


@transaction.atomic
def approve_grant_request(
    *,
    request: GrantRequest,
    actor,
    starts_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
    scope=None,
) -> Grant:
    """授权 a pending request: runs the matching operation of §4 — authorize (a full-data request),
    early renewal (an extension of a scheduled or active grant: the new end) or renewal (of an
    expired grant: the period) — with the proposed period or the one the creator edited, under that
    operation's rules, history and constraints. ``scope``: a new grant's (None: all PARTS); for an
    extension, None keeps the grant's scope and a scope changes it too (``change_scope``'s event).
    Returns the grant; its main account is told."""
    grant_request = _lock_grant_request(request, actor)
    starts_on = starts_on or grant_request.starts_on
    ends_on = ends_on or grant_request.ends_on
    day = today()
    if grant_request.kind == GrantRequest.Kind.GRANT:
        grant = _authorize(
            creator=grant_request.creator, organization=grant_request.organization, starts_on=starts_on,
            ends_on=ends_on, actor=actor, scope=scope,
        )  # fmt: skip
    else:
        grant = _lock(grant_request.grant)
        if grant.can_renew_early(day):
            grant = _renew_early(grant=grant, ends_on=ends_on, actor=actor)
        elif grant.can_renew(day):
            grant = _renew(grant=grant, starts_on=starts_on or day, ends_on=ends_on, actor=actor)
        else:
            raise _refuse("not_extendable", _("该授权已被解除，不能续约。"))
        if scope is not None and _scope(scope) != grant.scope:
            grant = _change_scope(grant=grant, scope=scope, actor=actor)
    grant_request.status = GrantRequestStatus.APPROVED
    grant_request.grant = grant
    grant_request.decided_at = timezone.now()
    grant_request.decided_by = actor
    grant_request.save(update_fields=["status", "grant", "decided_at", "decided_by", "updated_at"])
    _record_grant_request(grant_request, GrantRequestEvent.Operation.APPROVE, actor, grant)
    notices.grant_request_decided(grant_request, grant)
    return grant


@transaction.atomic
def decline_grant_request(*, request: GrantRequest, actor, reason: str = "") -> GrantRequest:
    """拒绝 a pending request, with an optional reason (at most 200 characters) the organization
    sees. A full-data request may be made again 7 days later."""
    grant_request = _lock_grant_request(request, actor)
    grant_request.reason = _check_text(reason, "reason")
    grant_request.status = GrantRequestStatus.DECLINED
    grant_request.decided_at = timezone.now()
    grant_request.decided_by = actor
    grant_request.save(update_fields=["status", "reason", "decided_at", "decided_by", "updated_at"])
    _record_grant_request(grant_request, GrantRequestEvent.Operation.DECLINE, actor, None)
    notices.grant_request_decided(grant_request)
    return grant_request


def _record_grant_request(grant_request: GrantRequest, operation: str, actor, period) -> GrantRequestEvent:
    return GrantRequestEvent.objects.create(
        request=grant_request, operation=operation, actor=actor,
        starts_on=getattr(period, "starts_on", None), ends_on=getattr(period, "ends_on", None),
    )  # fmt: skip
