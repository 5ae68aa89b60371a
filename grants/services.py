"""Every rule of SPEC §4–§5 and §9: the only place that changes grants, livestream access requests
and full-data/extension requests.

Each service is keyword-only, runs in one transaction, locks the row it changes
(``select_for_update``), lets the model's guard decide, refuses with ``ValidationError`` (with a
``code``) or ``PermissionDenied``, writes exactly one history event per object it changes, tells
whom SPEC §10 says (``grants.notices``, in the same transaction), and returns the object. Nothing
is written when it refuses.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.models import Creator, Membership, Organization

from . import access, notices
from .models import (
    ASK_AGAIN_AFTER,
    FULL_SCOPE,
    LIVE_STATUSES,
    MAX_REQUEST_DAYS,
    Delegation,
    DelegationEvent,
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    GrantRequestStatus,
    GrantStatus,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    RequestStatus,
    scope_of,
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


def _scope(scope) -> int:
    """A scope (an iterable of ``PARTS``; None: all of them) as its bit mask; none chosen is refused
    (``empty_scope``), an unknown part too (``invalid_scope``)."""
    if scope is None:
        return FULL_SCOPE
    if isinstance(scope, str):
        scope = [scope]
    try:
        mask = scope_of(scope)
    except ValueError as error:
        raise _refuse("invalid_scope", _("授权范围无效。"), "scope") from error
    if not mask:
        raise _refuse("empty_scope", _("请至少选择一项授权范围。"), "scope")
    return mask


@transaction.atomic
def authorize(
    *,
    creator: Creator,
    organization: Organization,
    starts_on: datetime.date,
    ends_on: datetime.date,
    actor,
    scope=None,
) -> Grant:
    """授权: a new grant, for an organization with no scheduled, active or expired grant (never
    granted, or only revoked ones), covering ``scope`` (PARTS; None: all of them). The
    organization's main account is told."""
    grant = _authorize(
        creator=creator, organization=organization, starts_on=starts_on, ends_on=ends_on, actor=actor, scope=scope
    )
    notices.grant_changed(grant, GrantEvent.Operation.AUTHORIZE)
    return grant  # fmt: skip


def _authorize(*, creator: Creator, organization: Organization, starts_on, ends_on, actor, scope=None) -> Grant:
    """``authorize`` without its message: approving a request sends its own."""
    _require_creator(creator, actor)
    mask = _scope(scope)
    day = today()
    # Serialize this creator's authorizations: the pair may have no row yet to lock.
    _lock_creator(creator.pk)
    existing = Grant.objects.for_creator(creator).for_organization(organization).not_revoked().first()
    if existing is not None:
        raise _existing_grant_refusal(existing, day)
    _check_period(starts_on, ends_on, day)
    Grant.objects.for_creator(creator).for_organization(organization).latest_per_pair().update(is_latest=False)
    grant = Grant(creator=creator, organization=organization, starts_on=starts_on, ends_on=ends_on, scope=mask)
    grant.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            grant.save()
    except IntegrityError as error:  # a concurrent authorization of the same pair won the race
        raise _refuse("already_granted", _("该商家/机构已有未解除的授权。")) from error
    _record(grant, GrantEvent.Operation.AUTHORIZE, actor, after=grant, scope=(None, grant.scope))
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
    delegates = notices.delegates_of(grant)  # those holding a delegation until now (SPEC §10)
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor
    grant.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    _record(grant, GrantEvent.Operation.REVOKE, actor, before=before, after=grant)
    notices.grant_changed(grant, GrantEvent.Operation.REVOKE, delegates=delegates)
    return grant


@transaction.atomic
def renew_early(*, grant: Grant, ends_on: datetime.date, actor) -> Grant:
    """提前续约: a scheduled or active grant's end moves out; the renewal period starts tomorrow
    (fixed), ``starts_on`` stays, and access stays continuous."""
    grant = _renew_early(grant=grant, ends_on=ends_on, actor=actor)
    notices.grant_changed(grant, GrantEvent.Operation.RENEW_EARLY)
    return grant


def _renew_early(*, grant: Grant, ends_on: datetime.date, actor) -> Grant:
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
    grant = _renew(grant=grant, starts_on=starts_on, ends_on=ends_on, actor=actor)
    notices.grant_changed(grant, GrantEvent.Operation.RENEW)
    return grant


def _renew(*, grant: Grant, starts_on: datetime.date, ends_on: datetime.date, actor) -> Grant:
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


def _record(
    grant: Grant, operation: str, actor, *, before=None, after: Grant, renewal_starts_on=None, scope=(None, None)
) -> GrantEvent:
    starts_before, ends_before = before or (None, None)
    scope_before, scope_after = scope
    return GrantEvent.objects.create(
        scope_before=scope_before,
        scope_after=scope_after,
        grant=grant,
        operation=operation,
        actor=actor,
        starts_before=starts_before,
        ends_before=ends_before,
        starts_after=after.starts_on,
        ends_after=after.ends_on,
        renewal_starts_on=renewal_starts_on,
    )


# --- scopes and delegation (SPEC §12) -----------------------------------------------------------


@transaction.atomic
def change_scope(*, grant: Grant, scope, actor) -> Grant:
    """修改授权范围: a scheduled or active grant covers ``scope`` (PARTS, at least one) from now on;
    narrowing takes effect on the next request, and narrows its delegations with it (a
    delegation opens only the parts in both scopes). The main account and the delegates are told."""
    grant = _change_scope(grant=grant, scope=scope, actor=actor)
    notices.grant_changed(grant, GrantEvent.Operation.CHANGE_SCOPE)
    return grant


def _change_scope(*, grant: Grant, scope, actor) -> Grant:
    _require_creator(grant.creator, actor)
    mask = _scope(scope)
    grant = _lock(grant)
    if not grant.can_change_scope():
        raise _refuse("not_changeable", _("只能修改待生效或生效中的授权的范围（当前：%(status)s）。") % _status(grant))
    before = grant.scope
    grant.scope = mask
    grant.save(update_fields=["scope", "updated_at"])
    _record(
        grant, GrantEvent.Operation.CHANGE_SCOPE, actor, before=(grant.starts_on, grant.ends_on), after=grant,
        scope=(before, mask),
    )  # fmt: skip
    return grant


def _require_main_account(grant: Grant, actor) -> Membership:
    """Only the main account of the grant's organization delegates it."""
    who = access.party(actor)
    if not who.may_delegate or who.membership.organization_id != grant.organization_id:
        raise PermissionDenied(_("只有该授权所属商家/机构的主账号可以进行子账号授权。"))
    return who.membership


@transaction.atomic
def delegate(*, grant: Grant, sub_account, ends_on: datetime.date, actor, scope=None) -> Delegation:
    """子账号授权: the main account of the grant's organization hands a scheduled or active grant on
    to one of its sub-accounts (``not_a_sub_account`` otherwise) until ``ends_on`` (today or
    later, no later than the grant's end: ``beyond_grant``) for ``scope`` (within the grant's;
    None: the grant's whole scope; ``beyond_grant`` otherwise). Refused when the creator forbade
    delegation (``delegation_forbidden``) and while the sub-account holds an open delegation of the
    grant (``already_delegated``). The sub-account is told."""
    _require_main_account(grant, actor)
    grant = _lock(grant)
    day = today()
    if not grant.delegation_allowed:
        raise _refuse("delegation_forbidden", _("达人已禁止该授权的子账号授权。"))
    if not grant.can_delegate(day):
        raise _refuse(
            "not_delegable", _("只能对待生效或生效中的授权进行子账号授权（当前：%(status)s）。") % _status(grant)
        )
    membership = Membership.objects.filter(user_id=getattr(sub_account, "pk", None)).first()
    if membership is None or membership.organization_id != grant.organization_id or membership.is_main:
        raise _refuse("not_a_sub_account", _("只能授权给本机构的子账号。"), "sub_account")
    mask = grant.scope if scope is None else _scope(scope)
    if mask & ~grant.scope:
        raise _refuse("beyond_grant", _("子账号授权的范围不能超出达人授权的范围。"), "scope")
    if ends_on > grant.ends_on:
        limit = {"ends_on": _d(grant.ends_on)}
        raise _refuse(
            "beyond_grant", _("子账号授权的截止日期不能晚于达人授权的截止日期（%(ends_on)s）。") % limit, "ends_on"
        )
    if ends_on < max(day, grant.starts_on):
        raise _refuse("ends_before_start", _("截止日期不能早于今天或授权的开始日期。"), "ends_on")
    if Delegation.objects.for_grant(grant).for_sub_account(sub_account).open(day).exists():
        raise _refuse("already_delegated", _("该子账号已有此授权的子账号授权，请先结束它。"), "sub_account")
    delegation = Delegation.objects.create(
        grant=grant, sub_account=membership.user, ends_on=ends_on, scope=mask, created_by=actor
    )
    _record_delegation(delegation, DelegationEvent.Operation.DELEGATE, actor)
    notices.delegation_changed(delegation, DelegationEvent.Operation.DELEGATE)
    return delegation


def _lock_delegation(delegation: Delegation) -> Delegation:
    return (
        Delegation.objects.select_for_update(of=("self",))
        .select_related("grant__creator", "sub_account")
        .get(pk=delegation.pk)
    )


@transaction.atomic
def end_delegation(*, delegation: Delegation, actor) -> Delegation:
    """结束子账号授权: the main account of the grant's organization ends a delegation not yet ended,
    effective at once. The sub-account is told."""
    _require_main_account(delegation.grant, actor)
    _lock(delegation.grant)
    delegation = _lock_delegation(delegation)
    if not delegation.can_end():
        raise _refuse("not_ended", _("该子账号授权已结束。"))
    _end(delegation, actor, DelegationEvent.Operation.END)
    return delegation


def _end(delegation: Delegation, actor, operation: str) -> None:
    delegation.ended_at = timezone.now()
    delegation.ended_by = actor
    delegation.save(update_fields=["ended_at", "ended_by"])
    _record_delegation(delegation, operation, actor)
    notices.delegation_changed(delegation, operation)


@transaction.atomic
def set_delegation_allowed(*, grant: Grant, allowed: bool, actor) -> Grant:
    """允许/禁止子账号授权: the creator allows or forbids delegating the grant (any status). Forbidding
    ends every delegation of the grant at once (one event each, and the grant's event)."""
    _require_creator(grant.creator, actor)
    grant = _lock(grant)
    allowed = bool(allowed)
    if grant.delegation_allowed == allowed:
        return grant
    grant.delegation_allowed = allowed
    grant.save(update_fields=["delegation_allowed", "updated_at"])
    operation = GrantEvent.Operation.ALLOW_DELEGATION if allowed else GrantEvent.Operation.FORBID_DELEGATION
    _record(grant, operation, actor, before=(grant.starts_on, grant.ends_on), after=grant)
    if not allowed:
        for delegation in (
            Delegation.objects.for_grant(grant)
            .not_ended()
            .select_for_update()
            .select_related("sub_account")
            .order_by("pk")
        ):
            delegation.grant = grant
            _end(delegation, actor, DelegationEvent.Operation.FORBIDDEN)
    return grant


def _record_delegation(delegation: Delegation, operation: str, actor) -> DelegationEvent:
    return DelegationEvent.objects.create(
        delegation=delegation, operation=operation, actor=actor, ends_on=delegation.ends_on, scope=delegation.scope
    )


# --- single-livestream access requests --------------------------------------------------------


@transaction.atomic
def request_livestream_access(*, livestream, actor) -> LivestreamAccessRequest:
    """解锁更多数据: the actor's organization asks to view the livestream's modules.

    Only members (main or sub) of an organization that cooperated in the livestream may ask. While a
    request is pending, that one is returned and nothing new is written; while access is approved,
    the request is refused (``already_approved``). After a decline or a revoke, or once the pending
    one has expired (SPEC §9), a new one is made and the creator is told.
    """
    if not access.livestream_access(actor, livestream).cooperating:
        raise PermissionDenied(_("只有参与该直播合作的商家/机构可以申请。"))
    organization_id = actor.membership_or_none.organization_id
    existing = _open_request(livestream, organization_id)
    if existing is not None:
        return existing
    access_request = LivestreamAccessRequest(
        livestream=livestream, creator_id=livestream.creator_id, organization_id=organization_id, requested_by=actor
    )
    try:
        with transaction.atomic():
            access_request.save()
    except IntegrityError:  # a colleague's request for the same livestream was saved first
        existing = _open_request(livestream, organization_id)
        if existing is None:
            raise
        return existing
    _record_request(access_request, LivestreamAccessEvent.Operation.REQUEST, actor)
    notices.livestream_request_received(access_request)
    return access_request


def _open_request(livestream, organization_id: int) -> LivestreamAccessRequest | None:
    """The organization's request in force for the livestream, locked: a pending one (returned), an
    approved one (refused). A pending one that has expired is closed first (stored "expired", no
    event: its status was already expired), so the one-open-request constraint lets a new one in."""
    found = (
        LivestreamAccessRequest.objects.for_livestream(livestream)
        .filter(organization_id=organization_id)
        .holding_slot()
        .select_for_update()
        .first()
    )
    if found is None:
        return None
    if found.status == RequestStatus.APPROVED:
        raise _refuse("already_approved", _("该直播间数据已授权，无需再次申请。"))
    if found.is_expired:
        _close_expired(found)
        return None
    return found


def _close_expired(expired_request) -> None:
    expired_request.status = RequestStatus.EXPIRED
    expired_request.save(update_fields=["status", "updated_at"])


def _lock_request(access_request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """Only the livestream's creator decides; re-read the request under a row lock."""
    locked = (
        LivestreamAccessRequest.objects.select_for_update(of=("self",))
        .select_related("livestream__creator", "organization", "requested_by")
        .get(pk=access_request.pk)
    )
    if actor is None or not actor.is_authenticated or locked.livestream.creator.user_id != actor.pk:
        raise PermissionDenied(_("只有该直播的达人本人可以处理申请。"))
    return locked


NOT_PENDING_MESSAGE = gettext_lazy("只能处理待审批的申请（当前：%(status)s）。")
EXPIRED_MESSAGE = gettext_lazy("该申请已超过 7 天未处理，已过期，不能再处理。")
TEXT_MAX = 200  # a request's message and a decline's reason


def _refuse_decision(a_request) -> ValidationError:
    """Why a request cannot be decided: expired (``request_expired``), or decided already."""
    if a_request.is_expired:
        return _refuse("request_expired", str(EXPIRED_MESSAGE))
    return _refuse("not_pending", str(NOT_PENDING_MESSAGE) % {"status": a_request.get_status_display()})


def _check_text(value: str, field: str) -> str:
    value = (value or "").strip()
    if len(value) > TEXT_MAX:
        limit = {"max": TEXT_MAX, "count": len(value)}
        raise _refuse("max_length", _("最多 %(max)s 个字（当前 %(count)s 个）。") % limit, field)
    return value


def _decide(access_request, actor, *, status: str, operation: str, reason: str = ""):
    access_request.status = status
    access_request.decided_at = timezone.now()
    access_request.decided_by = actor
    access_request.reason = reason
    access_request.save(update_fields=["status", "reason", "decided_at", "decided_by", "updated_at"])
    _record_request(access_request, operation, actor)
    return access_request


@transaction.atomic
def approve_livestream_request(*, request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """授权: pending → approved; every member of the organization can view the modules at once."""
    access_request = _lock_request(request, actor)
    if not access_request.can_decide():
        raise _refuse_decision(access_request)
    _decide(access_request, actor, status=RequestStatus.APPROVED, operation=LivestreamAccessEvent.Operation.APPROVE)
    notices.livestream_request_decided(access_request, "livestream_request_approved")
    return access_request


@transaction.atomic
def decline_livestream_request(*, request: LivestreamAccessRequest, actor, reason: str = "") -> LivestreamAccessRequest:
    """拒绝: pending → declined, with an optional reason (at most 200 characters) the organization
    sees; it may ask again."""
    access_request = _lock_request(request, actor)
    if not access_request.can_decide():
        raise _refuse_decision(access_request)
    reason = _check_text(reason, "reason")
    _decide(
        access_request, actor, status=RequestStatus.DECLINED, operation=LivestreamAccessEvent.Operation.DECLINE,
        reason=reason,
    )  # fmt: skip
    notices.livestream_request_decided(access_request, "livestream_request_declined")
    return access_request


@transaction.atomic
def revoke_livestream_access(*, request: LivestreamAccessRequest, actor) -> LivestreamAccessRequest:
    """解除授权: approved → revoked, effective at once; the organization may ask again."""
    access_request = _lock_request(request, actor)
    if not access_request.can_revoke():
        raise _refuse(
            "not_approved",
            _("只能解除已授权的申请（当前：%(status)s）。") % {"status": access_request.get_status_display()},
        )
    _decide(
        access_request, actor, status=RequestStatus.REVOKED, operation=LivestreamAccessEvent.Operation.REVOKE,
        reason=access_request.reason,
    )  # fmt: skip
    notices.livestream_request_decided(access_request, "livestream_access_revoked")
    return access_request


def _record_request(access_request, operation: str, actor) -> LivestreamAccessEvent:
    return LivestreamAccessEvent.objects.create(request=access_request, operation=operation, actor=actor)


# --- full-data and extension requests (SPEC §9) --------------------------------------------------


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


def _lock_creator(creator_id: int) -> None:
    """Serialize what concerns one creator's grants and requests: authorizing, asking and deciding
    all lock the creator's row first (then the request's), so a request made while another is being
    approved sees the grant that approval made, and no two of them wait on each other in a cycle."""
    Creator.objects.select_for_update().filter(pk=creator_id).exists()


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
        LivestreamAccessRequest.objects.select_for_update(of=("self",))
        .select_related("livestream", "organization", "requested_by")
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
    for access_request in ended:
        access_request.status = RequestStatus.ENDED
        access_request.updated_at = now
    notices.livestream_requests_ended(ended)  # the inbox (SPEC §10), in this transaction
    return ended
