"""Full-data grants: authorize, revoke, renew early, renew (SPEC §4)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Creator, Organization

from .. import notices
from ..models import (
    FULL_SCOPE,
    Grant,
    GrantEvent,
    GrantStatus,
    scope_of,
    today,
)

# --- full-data grants -----------------------------------------------------------------------
from .common import _check_period, _d, _lock, _lock_creator, _refuse, _require_creator


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
