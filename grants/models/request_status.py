"""A request's status, derived from the time (SPEC §9): pending for more than 7 days is expired — one
definition for the filters, the annotation and the property, as a grant's status is."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# --- requests: their status, derived from the time ---------------------------------------------


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", pgettext_lazy("request status", "已授权")
    DECLINED = "declined", _("已拒绝")
    REVOKED = "revoked", _("已解除授权")
    EXPIRED = "expired", _("过期未处理")
    # The livestream moved to another creator (an import or staff changed its creator): what the
    # former creator approved or had to decide no longer holds (services.end_livestream_access).
    ENDED = "ended", _("已失效")


OPEN_REQUEST_STATUSES = (RequestStatus.PENDING, RequestStatus.APPROVED)

# The definition of a request's expiry (SPEC §9), for both kinds of request: a request still
# pending REQUEST_TTL after it was made (``created_at``) is expired (过期未处理), whatever its stored
# status says; nothing flips it. The rule is (stored status, time field, time to live, status
# it becomes); the filters (``request_status_q``), the annotation (``request_status_case``) and the
# attribute of every request (``request_status_of``, read through ``RequestStatusField``) are all
# built from it. A stored "expired" is an expired request closed when its organization asked again
# (the database's one-pending-request constraints cannot see the time, so the row is closed first).
REQUEST_TTL = datetime.timedelta(days=7)
REQUEST_EXPIRY: tuple[str, str, datetime.timedelta, str] = (
    RequestStatus.PENDING,
    "created_at",
    REQUEST_TTL,
    RequestStatus.EXPIRED,
)


def _expiry_cutoff(now: datetime.datetime) -> datetime.datetime:
    return now - REQUEST_EXPIRY[2]


def _lapsed_q(now: datetime.datetime) -> Q:
    """Stored as waiting, but waiting for longer than the rule allows."""
    waiting, field, _ttl, _lapsed = REQUEST_EXPIRY
    return Q(status=waiting, **{f"{field}__lt": _expiry_cutoff(now)})


def request_status_q(status: str, now: datetime.datetime | None = None) -> Q:
    """The condition under which a request has ``status`` at ``now`` (index-friendly).

    Waiting is written as one range of the (party, status, time) indexes: the stored status, then
    the time from the cutoff on (the time is never null, so this is "waiting and not lapsed"); a
    capped count of it reads only the entries it counts. (For counting the lapsed status, see
    ``RequestQuerySetMixin.counted_by_status``.)"""
    now = now or timezone.now()
    waiting, field, _ttl, lapsed = REQUEST_EXPIRY
    if status == waiting:
        return Q(status=waiting, **{f"{field}__gte": _expiry_cutoff(now)})
    if status == lapsed:
        return Q(status=lapsed) | _lapsed_q(now)
    return Q(status=status)


def request_status_case(now: datetime.datetime | None = None) -> Case:
    return Case(
        When(_lapsed_q(now or timezone.now()), then=Value(REQUEST_EXPIRY[3])),
        default=F("status"),
        output_field=models.CharField(),
    )


def request_status_of(stored: str, made_at: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    waiting, _field, ttl, lapsed = REQUEST_EXPIRY
    if stored == waiting and made_at is not None and made_at < (now or timezone.now()) - ttl:
        return lapsed
    return stored


class _DerivedStatus:
    """The ``status`` attribute of a request: the stored value as of now (``request_status_of``).

    Setting it stores the value; reading it answers what the status is now, so a request pending
    for more than ``REQUEST_TTL`` reads "expired" (and ``get_status_display()`` says 过期未处理)
    without any job having touched it.
    """

    def __init__(self, field):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        time_field = REQUEST_EXPIRY[1]
        deferred = [name for name in (self.field.attname, time_field) if name not in instance.__dict__]
        if deferred and instance.pk is not None:  # load what the reading needs, as Django would
            instance.refresh_from_db(fields=deferred)
        stored = instance.__dict__.get(self.field.attname)
        return request_status_of(stored, instance.__dict__.get(time_field))

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class RequestStatusField(models.CharField):
    """A request's stored status, read through ``_DerivedStatus`` (see ``REQUEST_EXPIRY``).

    What is saved is what was stored or set, never the derived reading: a request pending for
    eight days stays stored as pending (and keeps its place under the one-pending constraints)
    until a service closes it.
    """

    descriptor_class = _DerivedStatus

    def pre_save(self, model_instance, add):
        return model_instance.__dict__.get(self.attname)


class RequestQuerySetMixin:
    """Reads shared by both kinds of request; status filters follow ``REQUEST_EXPIRY``."""

    status_choices: type[models.TextChoices] = RequestStatus

    def with_status(self, status: str | None):
        """Requests with ``status`` now (derived); every request for anything else."""
        return self.filter(request_status_q(status)) if status in self.status_choices.values else self

    def pending(self):
        """Pending now: waiting for a decision, and not yet expired."""
        return self.filter(request_status_q(RequestStatus.PENDING))

    def expired(self):
        return self.filter(request_status_q(RequestStatus.EXPIRED))

    def stored_pending(self):
        """Stored as pending, expired or not: the rows the one-pending constraints count."""
        return self.filter(status=RequestStatus.PENDING)

    def with_current_status(self):
        """Annotates ``status_now``, the status derived in the query."""
        return self.annotate(status_now=request_status_case())

    def newest_first(self):
        return self.order_by("-created_at", "-pk")

    def by_status(self, now: datetime.datetime | None = None) -> dict:
        """``{"all": self, "pending": …, …}``: the tabs' lists (see ``GrantQuerySet.by_status``)."""
        now = now or timezone.now()
        return {"all": self, **{s: self.filter(request_status_q(s, now)) for s in self.status_choices.values}}

    def counted_by_status(self) -> dict:
        """``by_status()`` to be counted (``grants.speedups.capped_counts``): the same rows, each
        list one range of a (party, [status,] time) index, newest first as the index is ordered
        (so the count walks that range), so that each count is index-only and reads only what it
        counts. The lapsed status is two ranges, its stored status and the waiting requests older
        than the cutoff, as a UNION ALL (which can be counted or sliced, not filtered further); as
        one condition, an OR, it could not be one range."""
        now = timezone.now()
        waiting, field, _ttl, lapsed = REQUEST_EXPIRY
        lists = {name: rows.newest_first() for name, rows in self.by_status(now).items()}
        waited = self.filter(status=waiting, **{f"{field}__lt": _expiry_cutoff(now)})
        lists[lapsed] = self.filter(status=lapsed).union(waited, all=True)
        return lists

    def status_counts(self) -> dict[str, int]:
        """Count per status (derived) in one query."""
        now = timezone.now()
        return self.aggregate(
            all=Count("pk"),
            **{s: Count("pk", filter=request_status_q(s, now)) for s in self.status_choices.values},
        )
