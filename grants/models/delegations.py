"""Delegations (子账号授权, SPEC §12): a main account hands a grant on to its sub-accounts."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.models import Membership

# --- delegations (子账号授权, SPEC §12) -------------------------------------------------------------
from .grant import (
    FULL_SCOPE,
    LIVE_STATUSES,
    Grant,
    GrantStatus,
    HistoryQuerySet,
    ImmutableModel,
    parts_of,
    scope_labels,
    today,
)


class DelegationState(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("delegation state", "生效中")
    WAITING = "waiting", _("待授权生效")
    LAPSED = "lapsed", _("已失效")
    EXPIRED = "expired", _("已到期")
    ENDED = "ended", _("已结束")


# The sub-account is still a sub-account of its delegation's grant's organization (SPEC §12: one
# that left, or became a main account, holds nothing).
STILL_A_SUB_ACCOUNT = Q(
    sub_account__membership__organization_id=F("grant__organization_id"),
    sub_account__membership__role=Membership.Role.SUB,
)


def delegation_effective_q(day: datetime.date) -> Q:
    """The definition of an effective delegation on ``day`` (SPEC §12), checked by the database: not
    ended, ``ends_on`` not passed, its grant active and still allowing delegation, and the
    sub-account still a sub-account of the grant's organization. The scope it opens is the AND of
    its scope and the grant's (``DelegationQuerySet.effective_on`` also requires that non-empty).
    Nothing flips a delegation when the grant is revoked, expires or is narrowed, or when the
    sub-account leaves: the delegation simply stops matching."""
    return (
        Q(
            ended_at__isnull=True,
            ends_on__gte=day,
            grant__revoked_at__isnull=True,
            grant__starts_on__lte=day,
            grant__ends_on__gte=day,
            grant__delegation_allowed=True,
        )
        & STILL_A_SUB_ACCOUNT
    )


class DelegationQuerySet(models.QuerySet):
    def for_grant(self, grant) -> DelegationQuerySet:
        return self.filter(grant=grant)

    def for_sub_account(self, user) -> DelegationQuerySet:
        return self.filter(sub_account=user)

    def for_organization(self, organization_id: int) -> DelegationQuerySet:
        """The delegations of the organization's grants (what its main account manages)."""
        return self.filter(grant__organization_id=organization_id)

    def not_ended(self) -> DelegationQuerySet:
        return self.filter(ended_at__isnull=True)

    def open(self, day: datetime.date | None = None) -> DelegationQuerySet:
        """Not ended and not past its end: the one a new delegation of the same pair would clash with."""
        return self.filter(ended_at__isnull=True, ends_on__gte=day or today())

    def held(self, day: datetime.date | None = None) -> DelegationQuerySet:
        """Open, and its sub-account still a sub-account of the grant's organization: whom SPEC §10
        tells of the grant's changes and reminds of its end (whether or not the grant opens
        anything today)."""
        return self.open(day).filter(STILL_A_SUB_ACCOUNT)

    def effective_on(self, day: datetime.date | None = None) -> DelegationQuerySet:
        day = day or today()
        return (
            self.alias(_effective_scope=F("scope").bitand(F("grant__scope")))
            .filter(delegation_effective_q(day))
            .filter(_effective_scope__gt=0)
        )

    def newest_first(self) -> DelegationQuerySet:
        return self.order_by("-created_at", "-pk")


class Delegation(models.Model):
    """A main account hands its organization's grant on to one of its sub-accounts (子账号授权), until
    ``ends_on`` (no later than the grant's end) for ``scope`` (within the grant's)."""

    grant = models.ForeignKey(
        Grant, on_delete=models.PROTECT, related_name="delegations", verbose_name=pgettext_lazy("a grant", "授权")
    )
    sub_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="delegations", verbose_name=_("子账号")
    )
    ends_on = models.DateField(_("截止日期"))
    scope = models.PositiveSmallIntegerField(_("授权范围"), default=FULL_SCOPE)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("授权人")
    )
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("结束人"),
    )  # fmt: skip

    objects = DelegationQuerySet.as_manager()

    class Meta:
        verbose_name = _("子账号授权")
        verbose_name_plural = _("子账号授权")
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__gte=1, scope__lte=FULL_SCOPE),
                name="delegation_scope_valid",
                violation_error_code="empty_scope",
                violation_error_message=_("请至少选择一项授权范围。"),
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_by__isnull=False), name="delegation_ended_has_actor"
            ),
        ]
        indexes = [
            # The delegate's access check: the open delegation of a grant (found from the grant)
            # to the sub-account.
            models.Index(
                fields=["grant", "sub_account", "ends_on"],
                condition=Q(ended_at__isnull=True),
                name="delegation_access_check",
            ),  # fmt: skip
            models.Index(fields=["grant", "-created_at"], name="delegation_grant_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.grant_id} → {self.sub_account} [{self.ends_on}]"

    @property
    def parts(self) -> frozenset[str]:
        return parts_of(self.scope)

    @property
    def scope_labels(self) -> list:
        return scope_labels(self.scope)

    def effective_scope(self) -> int:
        return self.scope & self.grant.scope

    def state_on(self, day: datetime.date, membership=None) -> DelegationState:
        """The delegation's state on ``day``, from the same definition as ``delegation_effective_q``
        (``membership``: the sub-account's, read from ``sub_account`` unless given)."""
        if self.ended_at is not None:
            return DelegationState.ENDED
        if self.ends_on < day:
            return DelegationState.EXPIRED
        if membership is None:
            membership = self.sub_account.membership_or_none
        grant_status = self.grant.status_on(day)
        if (
            grant_status not in LIVE_STATUSES
            or not self.grant.delegation_allowed
            or membership is None
            or membership.organization_id != self.grant.organization_id
            or membership.role != Membership.Role.SUB
            or not self.effective_scope()
        ):
            return DelegationState.LAPSED
        if grant_status == GrantStatus.SCHEDULED:
            return DelegationState.WAITING
        return DelegationState.ACTIVE

    @property
    def state(self) -> DelegationState:
        return self.state_on(today())

    def is_effective_on(self, day: datetime.date, membership=None) -> bool:
        return self.state_on(day, membership) == DelegationState.ACTIVE

    def can_end(self) -> bool:
        return self.ended_at is None


class DelegationEvent(ImmutableModel):
    """One step of a delegation: made, ended by the main account, or ended because the creator
    forbade delegation of the grant."""

    class Operation(models.TextChoices):
        DELEGATE = "delegate", _("子账号授权")
        END = "end", _("结束子账号授权")
        FORBIDDEN = "forbidden", _("达人禁止子账号授权，已结束")

    delegation = models.ForeignKey(
        Delegation, on_delete=models.PROTECT, related_name="events", verbose_name=_("子账号授权")
    )
    operation = models.CharField(_("操作"), max_length=10, choices=Operation.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)
    scope = models.PositiveSmallIntegerField(_("授权范围"), null=True, blank=True)

    objects = HistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("子账号授权记录")
        verbose_name_plural = _("子账号授权记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["delegation", "at"], name="delegation_event_at")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} · {self.delegation_id} · {self.at:%Y-%m-%d %H:%M}"
