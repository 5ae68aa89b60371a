"""Scopes and delegation (SPEC §12): change_scope, delegate, end_delegation, set_delegation_allowed."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Membership

from .. import access, notices
from ..models import (
    Delegation,
    DelegationEvent,
    Grant,
    GrantEvent,
    today,
)
from .common import _d, _lock, _refuse, _require_creator
from .grants import _record, _scope, _status

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
