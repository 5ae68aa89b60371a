"""Single-livestream access requests (单个直播间数据, SPEC §5) and their immutable history."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.compiled import compared_without_index

from .grant import HistoryQuerySet, ImmutableModel
from .request_status import (
    OPEN_REQUEST_STATUSES,
    REQUEST_TTL,
    RequestQuerySetMixin,
    RequestStatus,
    RequestStatusField,
    request_status_q,
)

# --- single-livestream access requests (单个直播间数据) -----------------------------------------


class LivestreamAccessRequestQuerySet(RequestQuerySetMixin, models.QuerySet):
    def for_creator(self, creator) -> LivestreamAccessRequestQuerySet:
        """The requests for ``creator``'s livestreams, by the request's own copy of the creator
        (indexed with status and time, so a creator's lists and counts are index ranges)."""
        return self.filter(creator=creator)

    def for_organization(self, organization) -> LivestreamAccessRequestQuerySet:
        return self.filter(organization=organization)

    def for_livestream(self, livestream) -> LivestreamAccessRequestQuerySet:
        return self.filter(livestream=livestream)

    def for_livestreams_of(self, organization, livestream_ids) -> LivestreamAccessRequestQuerySet:
        """The organization's requests for a page of livestreams, read by the livestreams (a few
        index probes), never by the organization: for an organization holding thousands, a generic
        plan by the organization took 5–10 ms against 0.1 ms
        (``portal.compiled.compared_without_index``)."""
        return compared_without_index(self.filter(livestream_id__in=livestream_ids), "organization_id", organization.pk)

    def approved(self) -> LivestreamAccessRequestQuerySet:
        return self.filter(status=RequestStatus.APPROVED)

    def open(self) -> LivestreamAccessRequestQuerySet:
        """Pending (and not expired) or approved: the request per (livestream, organization) in force."""
        now = timezone.now()
        return self.filter(request_status_q(RequestStatus.PENDING, now) | Q(status=RequestStatus.APPROVED))

    def holding_slot(self) -> LivestreamAccessRequestQuerySet:
        """Stored as pending or approved: the row the one-open-request constraint counts (an expired
        pending row still holds it until it is closed)."""
        return self.filter(status__in=OPEN_REQUEST_STATUSES)


class LivestreamAccessRequest(models.Model):
    """An organization's request to view one livestream's detailed modules, and the creator's answer."""

    livestream = models.ForeignKey(
        "livestreams.Livestream", on_delete=models.PROTECT, related_name="access_requests", verbose_name=_("直播")
    )
    # The creator the request was made to: the livestream's creator, copied by the service that makes
    # the request (``request_livestream_access``). When the livestream moves to another creator
    # (``livestreams.writes``), its open requests end (``services.end_livestream_access``) and every
    # request stays with the creator it was made to: the new creator never sees decisions, nor
    # approvals, they did not make. The creator's lists filter on it (a join through the livestream
    # measured 2-8 × slower: docs/performance.md, item 19); the two indexes below lead with it, so it
    # needs none of its own.
    creator = models.ForeignKey(
        "portal.Creator", on_delete=models.PROTECT, related_name="+", editable=False, db_index=False,
        verbose_name=_("达人"),
    )  # fmt: skip
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="livestream_requests", verbose_name=_("商家/机构")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    # Read as the status now: "expired" once pending for more than REQUEST_TTL (RequestStatusField).
    status = RequestStatusField(_("状态"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    reason = models.CharField(_("拒绝理由"), max_length=200, blank=True)
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("处理人"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = LivestreamAccessRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("直播间数据申请")
        verbose_name_plural = _("直播间数据申请")
        constraints = [
            # At most one pending or approved request per (livestream, organization): a second request
            # while one is pending returns it; a request while approved is refused.
            models.UniqueConstraint(
                fields=["livestream", "organization"],
                condition=Q(status__in=["pending", "approved"]),
                name="one_open_request_per_livestream_and_organization",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "declined", "revoked", "expired", "ended"]),
                name="request_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["livestream", "organization"],
                condition=Q(status="approved"),
                name="request_approved_access",
            ),
            models.Index(fields=["organization", "-created_at"], name="request_org_newest"),
            models.Index(fields=["status", "-created_at"], name="request_status_newest"),
            # A creator's lists, newest first: one status (and the capped counts, from the index
            # alone), and every status (the "all" tab).
            models.Index(fields=["creator", "status", "-created_at", "-id"], name="request_creator_status_newest"),
            models.Index(fields=["creator", "-created_at", "-id"], name="request_creator_newest"),
            # The reminder job: requests stored as pending, by age (5-day nudges, expiry notices).
            models.Index(fields=["created_at", "id"], condition=Q(status="pending"), name="request_pending_age"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.livestream_id} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING

    @property
    def is_approved(self) -> bool:
        return self.status == RequestStatus.APPROVED

    @property
    def is_expired(self) -> bool:
        return self.status == RequestStatus.EXPIRED

    def can_decide(self) -> bool:
        """Pending, and not expired (the status is read as of now)."""
        return self.status == RequestStatus.PENDING

    def can_revoke(self) -> bool:
        return self.status == RequestStatus.APPROVED

    @property
    def expires_at(self) -> datetime.datetime:
        return self.created_at + REQUEST_TTL


class LivestreamAccessEvent(ImmutableModel):
    """One step of a livestream request's life: requested, approved, declined, revoked."""

    class Operation(models.TextChoices):
        REQUEST = "request", _("申请")
        APPROVE = "approve", pgettext_lazy("request operation", "授权")
        DECLINE = "decline", _("拒绝")
        REVOKE = "revoke", _("解除授权")
        END = "end", _("直播间归属变更，申请失效")

    request = models.ForeignKey(
        LivestreamAccessRequest, on_delete=models.PROTECT, related_name="events", verbose_name=_("申请")
    )
    operation = models.CharField(_("操作"), max_length=10, choices=Operation.choices)
    # None: no user acted (an END written by the import that gave the livestream another creator).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )  # fmt: skip
    at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = HistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("直播间数据申请记录")
        verbose_name_plural = _("直播间数据申请记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["request", "at"], name="request_event_request_at")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} · {self.request_id} · {self.at:%Y-%m-%d %H:%M}"
