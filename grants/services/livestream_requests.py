"""Single-livestream access requests: request, approve, decline, revoke (SPEC §5)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import access, notices
from ..models import (
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    RequestStatus,
)
from .common import _refuse

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
