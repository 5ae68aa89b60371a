"""Full-data grants (全部带货数据授权), livestream access requests, and their immutable history.

A grant's status is never stored: it follows from ``starts_on``, ``ends_on``, ``revoked_at`` and
"today" (Asia/Shanghai). ``STATUS_RULES`` is the one definition; the QuerySet annotation
(``with_status``), the status filters and the ``Grant.status`` property are all built from it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.models import Membership


class GrantStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("待生效")
    ACTIVE = "active", pgettext_lazy("grant status", "已授权")
    EXPIRED = "expired", _("已到期")
    REVOKED = "revoked", _("已被解除授权")


# The definition of a grant's status on a day: the first rule that holds decides, else ACTIVE.
# Each rule is (status, field, test against today); tests: "set" (not null), "after", "before".
STATUS_RULES: tuple[tuple[str, str, str], ...] = (
    (GrantStatus.REVOKED, "revoked_at", "set"),
    (GrantStatus.SCHEDULED, "starts_on", "after"),
    (GrantStatus.EXPIRED, "ends_on", "before"),
)
LIVE_STATUSES = (GrantStatus.SCHEDULED, GrantStatus.ACTIVE)

# --- scopes (授权范围, SPEC §12) ------------------------------------------------------------------

PARTS = ("overview", "products", "livestreams", "modules")
"""What a full-data grant covers (SPEC §12): 数据概览 (KPIs, daily trend), 商品与店铺 (top products and
shops), 直播列表 (the livestream list and its CSV), 直播间模块 (the three modules of every livestream)."""
PART_LABELS = {
    "overview": _("数据概览"),
    "products": _("商品与店铺"),
    "livestreams": _("直播列表"),
    "modules": _("直播间模块"),
}
# A scope is stored as a bit mask of PARTS (one small integer: the access query reads it with the
# grant's row, and a delegation's effective scope is the bitwise AND of two columns).
PART_BITS = {part: 1 << index for index, part in enumerate(PARTS)}
FULL_SCOPE = sum(PART_BITS.values())


def scope_of(parts) -> int:
    """The bit mask of ``parts`` (an iterable of PARTS; unknown names raise ValueError)."""
    mask = 0
    for part in parts:
        if part not in PART_BITS:
            raise ValueError(f"unknown part {part!r}")
        mask |= PART_BITS[part]
    return mask


def parts_of(scope: int | None) -> frozenset[str]:
    """The PARTS a bit mask covers."""
    return frozenset(part for part, bit in PART_BITS.items() if (scope or 0) & bit)


def scope_labels(scope: int | None) -> list:
    """The covered parts' labels, in PARTS order (the lists and the history show them)."""
    return [PART_LABELS[part] for part in PARTS if (scope or 0) & PART_BITS[part]]


def _rule_q(field: str, test: str, today: datetime.date) -> Q:
    if test == "set":
        return Q(**{f"{field}__isnull": False})
    return Q(**{f"{field}__{'gt' if test == 'after' else 'lt'}": today})


def _rule_holds(value: Any, test: str, today: datetime.date) -> bool:
    if test == "set":
        return value is not None
    return value > today if test == "after" else value < today


def status_q(status: str, today: datetime.date) -> Q:
    """The condition under which a grant has ``status`` on ``today`` (index-friendly, no CASE)."""
    condition = Q()
    for rule_status, field, test in STATUS_RULES:
        rule = _rule_q(field, test, today)
        if rule_status == status:
            return condition & rule
        condition &= ~rule
    return condition  # ACTIVE: no rule holds


def status_case(today: datetime.date) -> Case:
    return Case(
        *(When(_rule_q(field, test, today), then=Value(status)) for status, field, test in STATUS_RULES),
        default=Value(GrantStatus.ACTIVE),
        output_field=models.CharField(),
    )


def status_of(grant: Grant, today: datetime.date) -> GrantStatus:
    for status, field, test in STATUS_RULES:
        if _rule_holds(getattr(grant, field), test, today):
            return GrantStatus(status)
    return GrantStatus.ACTIVE


def today() -> datetime.date:
    """The platform's today: the current date in Asia/Shanghai (settings.TIME_ZONE)."""
    return timezone.localdate()


class GrantQuerySet(models.QuerySet):
    def for_creator(self, creator) -> GrantQuerySet:
        return self.filter(creator=creator)

    def for_organization(self, organization) -> GrantQuerySet:
        return self.filter(organization=organization)

    def latest_per_pair(self) -> GrantQuerySet:
        """Each (creator, organization)'s most recently created grant — the one the lists show."""
        return self.filter(is_latest=True)

    def with_status(self, day: datetime.date | None = None) -> GrantQuerySet:
        return self.annotate(status_value=status_case(day or today()))

    def with_status_in(self, statuses, day: datetime.date | None = None) -> GrantQuerySet:
        day = day or today()
        condition = Q(pk__in=[])
        for status in statuses:
            condition |= status_q(status, day)
        return self.filter(condition)

    def live(self, day: datetime.date | None = None) -> GrantQuerySet:
        """Scheduled or active: not revoked and not yet ended."""
        return self.filter(revoked_at__isnull=True, ends_on__gte=day or today())

    def active_on(self, day: datetime.date | None = None) -> GrantQuerySet:
        day = day or today()
        return self.filter(revoked_at__isnull=True, starts_on__lte=day, ends_on__gte=day)

    def not_revoked(self) -> GrantQuerySet:
        return self.filter(revoked_at__isnull=True)

    def _idle_q(self, day: datetime.date) -> Q:
        """Idle (闲置, SPEC §11) on ``day``: active, active for the last ``IDLE_AFTER_DAYS`` days at
        least (today included), and no view under it in the data-access log during those days."""
        since = day - datetime.timedelta(days=IDLE_AFTER_DAYS - 1)
        viewed = AccessLogEntry.objects.filter(grant=OuterRef("pk")).under_grant_since(since)
        return Q(revoked_at__isnull=True, starts_on__lte=since, ends_on__gte=day) & ~Exists(viewed)

    def idle(self, day: datetime.date | None = None) -> GrantQuerySet:
        """The idle grants (the "idle" filter of the creator's list)."""
        return self.filter(self._idle_q(day or today()))

    def with_idle(self, day: datetime.date | None = None) -> GrantQuerySet:
        """Annotates ``is_idle`` (the list's 闲置 badge): one ``EXISTS`` on the log's ``access_log_grant``
        index per row of the page."""
        condition = self._idle_q(day or today())
        return self.annotate(
            is_idle=Case(When(condition, then=Value(True)), default=Value(False), output_field=models.BooleanField())
        )

    def held_by_main_account(self, user) -> GrantQuerySet:
        """Grants to the organization whose main account is ``user``.

        A semi-join on the membership table (``organization_id IN (SELECT …)``) rather than a join
        through the organization: the same rows, and a query the planner plans with one join less.
        """
        main = Membership.objects.filter(user_id=user.pk, role=Membership.Role.MAIN).values("organization_id")
        return self.filter(organization_id__in=main)

    def search_organization(self, term: str) -> GrantQuerySet:
        term = (term or "").strip()
        return self.filter(organization__name__icontains=term) if term else self

    def search_creator(self, term: str) -> GrantQuerySet:
        term = (term or "").strip()
        if not term:
            return self
        return self.filter(Q(creator__name__icontains=term) | Q(creator__douyin_id__icontains=term))

    def nearest_expiry_first(self, day: datetime.date | None = None) -> GrantQuerySet:
        """Scheduled/active by ``ends_on`` ascending, then expired/revoked by ``ends_on`` descending.

        Ties on ``ends_on`` go newest grant first. One ``ORDER BY`` of CASE expressions; a page of it
        is read from the (party, ends_on) indexes by ``grants.speedups.nearest_expiry_rows``.
        """
        day = day or today()
        live = Q(revoked_at__isnull=True, ends_on__gte=day)
        return self.alias(
            _dead=Case(When(live, then=Value(0)), default=Value(1), output_field=models.IntegerField()),
            _live_end=Case(When(live, then=F("ends_on")), default=Value(None), output_field=models.DateField()),
        ).order_by("_dead", F("_live_end").asc(nulls_last=True), F("ends_on").desc(), "-pk")

    def by_status(self, day: datetime.date | None = None) -> dict[str, GrantQuerySet]:
        """``{"all": self, "scheduled": …, …}``: the tabs' lists (counted by ``status_counts`` or,
        capped, by ``grants.speedups.capped_counts``)."""
        day = day or today()
        return {"all": self, **{status: self.filter(status_q(status, day)) for status in GrantStatus.values}}

    def status_counts(self, day: datetime.date | None = None) -> dict[str, int]:
        """Count per status in one query: ``{"all": n, "scheduled": n, ...}``."""
        day = day or today()
        return self.aggregate(
            all=Count("pk"), **{status: Count("pk", filter=status_q(status, day)) for status in GrantStatus.values}
        )


class Grant(models.Model):
    """One organization's right to view all of one creator's sales data for ``[starts_on, ends_on]``."""

    creator = models.ForeignKey(
        "portal.Creator", on_delete=models.PROTECT, related_name="grants", verbose_name=_("达人")
    )
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="grants", verbose_name=_("商家/机构")
    )
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("截止日期"))
    revoked_at = models.DateTimeField(_("解除授权时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("解除授权人"),
    )
    # The lists show one row per (creator, organization): its most recently created grant. The
    # authorize service clears this flag on the pair's older grants in the same transaction, so the
    # lists stay an index scan at a million grants instead of a "latest per group" subquery.
    is_latest = models.BooleanField(_("最新一次授权"), default=True, editable=False)
    # 授权范围 (SPEC §12): a bit mask of PARTS, all of them unless the creator chose fewer.
    # Database defaults too: rows written around the ORM (the bench's COPY, the other apps' bulk
    # writers) get the whole scope and delegation allowed, as the SPEC's defaults say.
    scope = models.PositiveSmallIntegerField(_("授权范围"), default=FULL_SCOPE, db_default=FULL_SCOPE)
    # 子账号授权 (SPEC §12): allowed unless the creator forbids it (forbidding ends every delegation).
    delegation_allowed = models.BooleanField(_("允许子账号授权"), default=True, db_default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("全部数据授权")
        verbose_name_plural = _("全部数据授权")
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "organization"],
                condition=Q(revoked_at__isnull=True),
                name="one_unrevoked_grant_per_pair",
                violation_error_code="already_granted",
                violation_error_message=_("该商家/机构已有未解除的授权。"),
            ),
            models.UniqueConstraint(
                fields=["creator", "organization"],
                condition=Q(is_latest=True),
                name="one_latest_grant_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")),
                name="grant_ends_on_not_before_starts_on",
                violation_error_code="ends_before_start",
                violation_error_message=_("截止日期不能早于开始日期。"),
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_by__isnull=False),
                name="grant_revoked_has_actor",
            ),
            models.CheckConstraint(
                condition=Q(scope__gte=1, scope__lte=FULL_SCOPE),
                name="grant_scope_valid",
                violation_error_code="empty_scope",
                violation_error_message=_("请至少选择一项授权范围。"),
            ),
        ]
        indexes = [
            # The access check: is there an active grant for (creator, organization) today?
            models.Index(
                fields=["organization", "creator", "ends_on", "starts_on"],
                condition=Q(revoked_at__isnull=True),
                name="grant_access_check",
            ),
            # Both lists, in "nearest expiry" order.
            models.Index(fields=["creator", "ends_on"], condition=Q(is_latest=True), name="grant_creator_list"),
            models.Index(fields=["organization", "ends_on"], condition=Q(is_latest=True), name="grant_org_list"),
            # A page of a list reads three ranges of these (see GrantQuerySet._nearest_expiry_slice),
            # and each capped status count one range, from the index alone (starts_on is in it).
            models.Index(
                fields=["creator", "ends_on", "starts_on"],
                condition=Q(is_latest=True, revoked_at__isnull=True),
                name="grant_creator_unrevoked",
            ),
            models.Index(
                fields=["organization", "ends_on", "starts_on"],
                condition=Q(is_latest=True, revoked_at__isnull=True),
                name="grant_org_unrevoked",
            ),
            models.Index(
                fields=["creator", "ends_on"],
                condition=Q(is_latest=True, revoked_at__isnull=False),
                name="grant_creator_revoked",
            ),
            models.Index(
                fields=["organization", "ends_on"],
                condition=Q(is_latest=True, revoked_at__isnull=False),
                name="grant_org_revoked",
            ),
            # The reminder job (grants/reminders.py): the unrevoked grants ending on one day, by id.
            models.Index(fields=["ends_on", "id"], condition=Q(revoked_at__isnull=True), name="grant_ending_on"),
        ]

    def __str__(self) -> str:
        return f"{self.creator.name} → {self.organization.name} [{self.starts_on} ~ {self.ends_on}]"

    # --- status, derived -------------------------------------------------------------------
    @property
    def status(self) -> GrantStatus:
        """The status as of today (Asia/Shanghai)."""
        return self.status_on(today())

    def status_on(self, day: datetime.date) -> GrantStatus:
        return status_of(self, day)

    def get_status_display(self) -> str:
        return self.status.label

    @property
    def days_left(self) -> int:
        """Days of access that remain, today included: 1 on the last day, 0 once expired or revoked."""
        return self.days_left_on(today())

    def days_left_on(self, day: datetime.date) -> int:
        if self.status_on(day) not in LIVE_STATUSES:
            return 0
        return (self.ends_on - max(day, self.starts_on)).days + 1

    @property
    def starts_in_days(self) -> int:
        return max((self.starts_on - today()).days, 0)

    # --- guards: which operation the grant's status allows ---------------------------------
    def can_revoke(self, day: datetime.date | None = None) -> bool:
        return self.status_on(day or today()) in LIVE_STATUSES

    def can_renew_early(self, day: datetime.date | None = None) -> bool:
        return self.status_on(day or today()) in LIVE_STATUSES

    def can_renew(self, day: datetime.date | None = None) -> bool:
        return self.status_on(day or today()) == GrantStatus.EXPIRED

    def can_reauthorize(self, day: datetime.date | None = None) -> bool:
        """A revoked grant's pair may be authorized anew (a new grant), if it is still the latest."""
        return self.is_latest and self.status_on(day or today()) == GrantStatus.REVOKED

    @property
    def period_days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    @property
    def parts(self) -> frozenset[str]:
        return parts_of(self.scope)

    @property
    def scope_labels(self) -> list:
        return scope_labels(self.scope)

    @property
    def has_full_scope(self) -> bool:
        return self.scope == FULL_SCOPE

    def can_change_scope(self, day: datetime.date | None = None) -> bool:
        return self.status_on(day or today()) in LIVE_STATUSES

    def can_delegate(self, day: datetime.date | None = None) -> bool:
        return self.delegation_allowed and self.status_on(day or today()) in LIVE_STATUSES


class HistoryQuerySet(models.QuerySet):
    """History is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise PermissionError("history events are immutable")

    def delete(self):
        raise PermissionError("history events are immutable")


class ImmutableModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("history events are immutable")
        # Insert only: a new instance carrying an existing event's pk must not UPDATE that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("history events are immutable")


class GrantEvent(ImmutableModel):
    """One operation on a full-data grant: who did what, when, and the period before and after."""

    class Operation(models.TextChoices):
        AUTHORIZE = "authorize", pgettext_lazy("grant operation", "授权")
        REVOKE = "revoke", _("解除授权")
        RENEW_EARLY = "renew_early", _("提前续约")
        RENEW = "renew", _("续约")
        CHANGE_SCOPE = "change_scope", _("修改授权范围")
        FORBID_DELEGATION = "forbid_delegation", _("禁止子账号授权")
        ALLOW_DELEGATION = "allow_delegation", _("允许子账号授权")

    grant = models.ForeignKey(
        Grant, on_delete=models.PROTECT, related_name="events", verbose_name=pgettext_lazy("a grant", "授权")
    )
    operation = models.CharField(_("操作"), max_length=20, choices=Operation.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    starts_before = models.DateField(_("原开始日期"), null=True, blank=True)
    ends_before = models.DateField(_("原截止日期"), null=True, blank=True)
    starts_after = models.DateField(_("新开始日期"), null=True, blank=True)
    ends_after = models.DateField(_("新截止日期"), null=True, blank=True)
    # Early renewal: the renewal period starts the day after the operation (fixed by the rules).
    renewal_starts_on = models.DateField(_("续约期开始"), null=True, blank=True)
    # The scope before and after (PART_BITS masks): set by authorize (after) and change_scope.
    scope_before = models.PositiveSmallIntegerField(_("原授权范围"), null=True, blank=True)
    scope_after = models.PositiveSmallIntegerField(_("新授权范围"), null=True, blank=True)

    objects = HistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("授权记录")
        verbose_name_plural = _("授权记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["grant", "at"], name="grant_event_grant_at")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} · {self.grant_id} · {self.at:%Y-%m-%d %H:%M}"

    @property
    def scope_before_labels(self) -> list:
        return scope_labels(self.scope_before)

    @property
    def scope_after_labels(self) -> list:
        return scope_labels(self.scope_after)


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
    """The condition under which a request has ``status`` at ``now`` (index-friendly)."""
    now = now or timezone.now()
    waiting, _field, _ttl, lapsed = REQUEST_EXPIRY
    if status == waiting:
        return Q(status=waiting) & ~_lapsed_q(now)
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

    def by_status(self) -> dict:
        """``{"all": self, "pending": …, …}``: the tabs' lists (see ``GrantQuerySet.by_status``)."""
        now = timezone.now()
        return {"all": self, **{s: self.filter(request_status_q(s, now)) for s in self.status_choices.values}}

    def status_counts(self) -> dict[str, int]:
        """Count per status (derived) in one query."""
        now = timezone.now()
        return self.aggregate(
            all=Count("pk"),
            **{s: Count("pk", filter=request_status_q(s, now)) for s in self.status_choices.values},
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


# --- full-data and extension requests (申请全部带货数据 / 申请续约, SPEC §9) ------------------------


class GrantRequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", pgettext_lazy("request status", "已授权")
    DECLINED = "declined", _("已拒绝")
    EXPIRED = "expired", _("过期未处理")


# A proposal covers at most this many days (SPEC §9): a full-data request's or an expired grant's
# new period, inclusive; for a scheduled or active grant, the days its end moves out.
MAX_REQUEST_DAYS = 366
# After a decline, the same organization may ask the same creator for full data again after this.
ASK_AGAIN_AFTER = datetime.timedelta(days=7)


class GrantRequestQuerySet(RequestQuerySetMixin, models.QuerySet):
    status_choices = GrantRequestStatus

    def for_creator(self, creator) -> GrantRequestQuerySet:
        return self.filter(creator=creator)

    def for_organization(self, organization) -> GrantRequestQuerySet:
        return self.filter(organization=organization)

    def of_kind(self, kind: str) -> GrantRequestQuerySet:
        return self.filter(kind=kind)

    def between(self, creator, organization) -> GrantRequestQuerySet:
        return self.filter(creator=creator, organization=organization)

    def declined_after(self, since: datetime.datetime) -> GrantRequestQuerySet:
        return self.filter(status=GrantRequestStatus.DECLINED, decided_at__gt=since)

    def search_organization(self, term: str) -> GrantRequestQuerySet:
        term = (term or "").strip()
        return self.filter(organization__name__icontains=term) if term else self

    def held_by_main_account(self, user) -> GrantRequestQuerySet:
        main = Membership.objects.filter(user_id=user.pk, role=Membership.Role.MAIN).values("organization_id")
        return self.filter(organization_id__in=main)


class GrantRequest(models.Model):
    """An organization's request to a creator: a full-data grant (``kind`` "grant") or the extension
    of its grant (``kind`` "extension"), with the period it proposes, and the creator's answer."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("申请全部带货数据")
        EXTENSION = "extension", _("申请续约")

    creator = models.ForeignKey(
        "portal.Creator", on_delete=models.PROTECT, related_name="grant_requests", verbose_name=_("达人")
    )
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="grant_requests", verbose_name=_("商家/机构")
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    # An extension's grant; a full-data request's grant once approved.
    grant = models.ForeignKey(
        Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="requests",
        verbose_name=pgettext_lazy("a grant", "授权"),
    )  # fmt: skip
    # The proposed period. An extension of a scheduled or active grant proposes only a new end (its
    # renewal period starts the day after it is approved, SPEC §4).
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("截止日期"))
    message = models.CharField(_("留言"), max_length=200, blank=True)
    reason = models.CharField(_("拒绝理由"), max_length=200, blank=True)
    status = RequestStatusField(
        _("状态"), max_length=10, choices=GrantRequestStatus.choices, default=GrantRequestStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    created_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("处理人"),
    )  # fmt: skip
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = GrantRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("全部数据申请")
        verbose_name_plural = _("全部数据申请")
        constraints = [
            # One pending request per (creator, organization, kind): a second one is refused
            # (pending_exists). An expired one is closed (stored "expired") before a new one is made.
            models.UniqueConstraint(
                fields=["creator", "organization", "kind"],
                condition=Q(status="pending"),
                name="one_pending_grant_request_per_kind",
                violation_error_code="pending_exists",
                violation_error_message=_("已有待审批的申请，请等待达人处理。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "declined", "expired"]),
                name="grant_request_status_valid",
            ),
            models.CheckConstraint(condition=Q(kind__in=["grant", "extension"]), name="grant_request_kind_valid"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="grant_request_ends_on_not_before_starts_on",
                violation_error_code="ends_before_start",
                violation_error_message=_("截止日期不能早于开始日期。"),
            ),
            models.CheckConstraint(
                condition=Q(kind="extension", grant__isnull=False) | Q(kind="grant", starts_on__isnull=False),
                name="grant_request_kind_has_its_fields",
            ),
        ]
        indexes = [
            # The creator's lists (one status, and every status) and counts, newest first.
            models.Index(fields=["creator", "status", "-created_at", "-id"], name="grant_request_creator_status"),
            models.Index(fields=["creator", "-created_at", "-id"], name="grant_request_creator_newest"),
            # The organization's list, newest first.
            models.Index(fields=["organization", "-created_at", "-id"], name="grant_request_org_newest"),
            # The reminder job: requests stored as pending, by age (5-day nudges, expiry notices).
            models.Index(fields=["created_at", "id"], condition=Q(status="pending"), name="grant_request_pending_age"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.creator} · {self.get_kind_display()} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == GrantRequestStatus.PENDING

    @property
    def is_expired(self) -> bool:
        return self.status == GrantRequestStatus.EXPIRED

    def can_decide(self) -> bool:
        """Pending, and not expired (the status is read as of now)."""
        return self.status == GrantRequestStatus.PENDING

    @property
    def is_extension(self) -> bool:
        return self.kind == self.Kind.EXTENSION

    @property
    def expires_at(self) -> datetime.datetime:
        return self.created_at + REQUEST_TTL

    @property
    def period_days(self) -> int | None:
        return (self.ends_on - self.starts_on).days + 1 if self.starts_on else None


class GrantRequestEvent(ImmutableModel):
    """One step of a full-data or extension request: requested, approved (with the period
    approved), declined."""

    class Operation(models.TextChoices):
        REQUEST = "request", _("申请")
        APPROVE = "approve", pgettext_lazy("request operation", "授权")
        DECLINE = "decline", _("拒绝")

    request = models.ForeignKey(GrantRequest, on_delete=models.PROTECT, related_name="events", verbose_name=_("申请"))
    operation = models.CharField(_("操作"), max_length=10, choices=Operation.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    # The period proposed (request) or approved (approve).
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)

    objects = HistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("全部数据申请记录")
        verbose_name_plural = _("全部数据申请记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["request", "at"], name="grant_request_event_at")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} · {self.request_id} · {self.at:%Y-%m-%d %H:%M}"


# --- reminders sent (SPEC §10): each one exactly once, by a unique index --------------------------


class ReminderThreshold(models.TextChoices):
    ENDS_IN_7_DAYS = "ends_in_7", _("7 天后到期")
    ENDS_TODAY = "ends_today", _("今天到期")
    WAITING_5_DAYS = "waiting_5", _("等待处理 5 天")
    EXPIRED = "expired", _("过期未处理")


class Reminder(models.Model):
    """One reminder delivered: (what it is about, threshold, recipient[, the grant's end]).

    The scheduled job (``grants/reminders.py``) inserts these with ``ON CONFLICT DO NOTHING`` and
    writes a message only for the rows it inserted itself (``run``, its batch's random claim), in
    the same transaction: the unique indexes below, not a check made first, make each reminder
    exactly once, whichever process gets there first. A grant's reminder is keyed by its end as
    well, so a grant renewed after its 7-day reminder is reminded again of its new end.
    """

    grant = models.ForeignKey(
        Grant, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=pgettext_lazy("a grant", "授权"),
    )  # fmt: skip
    grant_request = models.ForeignKey(
        GrantRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("全部数据申请")
    )
    livestream_request = models.ForeignKey(
        LivestreamAccessRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("直播间数据申请"),
    )  # fmt: skip
    threshold = models.CharField(_("提醒"), max_length=12, choices=ReminderThreshold.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("收件人")
    )
    # The grant's end the reminder was about (grants only).
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)
    # The batch that inserted the row: a batch reads back the rows it claimed by this, not by a
    # RETURNING that ON CONFLICT DO NOTHING would not give on every database.
    run = models.CharField(max_length=32, editable=False)
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("提醒记录")
        verbose_name_plural = _("提醒记录")
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "threshold", "recipient", "ends_on"],
                condition=Q(grant__isnull=False),
                name="one_reminder_per_grant_end",
            ),
            models.UniqueConstraint(
                fields=["grant_request", "threshold", "recipient"],
                condition=Q(grant_request__isnull=False),
                name="one_reminder_per_grant_request",
            ),
            models.UniqueConstraint(
                fields=["livestream_request", "threshold", "recipient"],
                condition=Q(livestream_request__isnull=False),
                name="one_reminder_per_livestream_request",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        grant__isnull=False,
                        ends_on__isnull=False,
                        grant_request__isnull=True,
                        livestream_request__isnull=True,
                    )
                    | Q(grant__isnull=True, grant_request__isnull=False, livestream_request__isnull=True)
                    | Q(grant__isnull=True, grant_request__isnull=True, livestream_request__isnull=False)
                ),  # fmt: skip
                name="reminder_about_one_thing",
            ),
            models.CheckConstraint(
                condition=Q(threshold__in=["ends_in_7", "ends_today", "waiting_5", "expired"]),
                name="reminder_threshold_valid",
            ),
        ]

    def __str__(self) -> str:
        subject = self.grant_id or self.grant_request_id or self.livestream_request_id
        return f"{self.threshold} · {subject} → {self.recipient_id}"


# --- the data-access log (SPEC §11) --------------------------------------------------------------


class AccessPage(models.TextChoices):
    """What was viewed: each gated page of a creator's data (``grants.access.record_view``)."""

    OVERVIEW = "overview", _("数据概览")
    LIVESTREAMS = "livestreams", _("直播列表")
    LIVESTREAMS_CSV = "livestreams_csv", _("直播列表导出")
    LIVESTREAM = "livestream", _("直播详情")
    BIG_SCREEN = "big_screen", _("直播大屏")
    TRAFFIC = "traffic", _("流量转化")
    AUDIENCE = "audience", _("用户画像")


ACCESS_LOG_RETENTION_DAYS = 180
IDLE_AFTER_DAYS = 14


class AccessLogQuerySet(models.QuerySet):
    def for_creator(self, creator) -> AccessLogQuerySet:
        return self.filter(creator=creator)

    def for_organization(self, organization) -> AccessLogQuerySet:
        return self.filter(organization=organization)

    def of_page(self, page: str | None) -> AccessLogQuerySet:
        return self.filter(page=page) if page else self

    def between(self, start: datetime.date | None, end: datetime.date | None) -> AccessLogQuerySet:
        rows = self
        if start is not None:
            rows = rows.filter(day__gte=start)
        if end is not None:
            rows = rows.filter(day__lte=end)
        return rows

    def search_organization(self, term: str) -> AccessLogQuerySet:
        term = (term or "").strip()
        return self.filter(organization__name__icontains=term) if term else self

    def search_creator(self, term: str) -> AccessLogQuerySet:
        term = (term or "").strip()
        if not term:
            return self
        return self.filter(Q(creator__name__icontains=term) | Q(creator__douyin_id__icontains=term))

    def under_grant_since(self, day: datetime.date) -> AccessLogQuerySet:
        """Views under a grant from ``day`` on (the idle flag's question, read from ``access_log_grant``)."""
        return self.filter(day__gte=day)

    def newest_first(self) -> AccessLogQuerySet:
        return self.order_by("-day", "-last_at", "-pk")

    def older_than(self, day: datetime.date) -> AccessLogQuerySet:
        return self.filter(day__lt=day)


class AccessLogEntry(models.Model):
    """数据访问记录: one row per (viewer, creator, page, livestream, day in Asia/Shanghai), upserted
    by ``grants.access.record_view`` each time a gated page is served to someone other than the
    creator, with the number of views, the first and last time, and the authority of the day's last
    view (the grant, the delegation of a grant, or the approved livestream request). Written only there, by one
    ``INSERT … ON CONFLICT DO UPDATE``; purged after ``ACCESS_LOG_RETENTION_DAYS`` by
    ``manage.py purge_access_log``."""

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("查看人")
    )
    creator = models.ForeignKey("portal.Creator", on_delete=models.CASCADE, related_name="+", verbose_name=_("达人"))
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("商家/机构")
    )
    page = models.CharField(_("页面"), max_length=20, choices=AccessPage.choices)
    livestream = models.ForeignKey(
        "livestreams.Livestream", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("直播"),
    )  # fmt: skip
    day = models.DateField(_("日期"))
    first_at = models.DateTimeField(_("首次查看"))
    last_at = models.DateTimeField(_("最近查看"))
    views = models.PositiveIntegerField(_("查看次数"), default=1)
    # The authority: a grant, a delegation (SPEC §12: its views carry its grant here too, so that
    # they count for the grant's idle flag, and the delegation beside it), or an approved
    # livestream request.
    grant = models.ForeignKey(
        Grant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("依据的授权")
    )
    delegation = models.ForeignKey(
        "grants.Delegation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("依据的子账号授权"),
    )  # fmt: skip
    livestream_request = models.ForeignKey(
        LivestreamAccessRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("依据的直播间申请"),
    )  # fmt: skip

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("数据访问记录")
        verbose_name_plural = _("数据访问记录")
        constraints = [
            # One row per (viewer, creator, page, livestream, day): two partial unique indexes, because
            # NULLs are distinct in a unique index (PostgreSQL < 15 and SQLite know no NULLS NOT
            # DISTINCT). The upsert names the one that applies as its conflict target.
            models.UniqueConstraint(
                fields=["viewer", "creator", "page", "day"],
                condition=Q(livestream__isnull=True),
                name="access_log_one_row_per_page_day",
            ),
            models.UniqueConstraint(
                fields=["viewer", "creator", "page", "livestream", "day"],
                condition=Q(livestream__isnull=False),
                name="access_log_one_row_per_livestream_day",
            ),
        ]
        indexes = [
            models.Index(fields=["creator", "-day"], name="access_log_creator_day"),
            models.Index(fields=["organization", "-day"], name="access_log_org_day"),
            models.Index(fields=["grant", "day"], condition=Q(grant__isnull=False), name="access_log_grant"),
            models.Index(fields=["day"], name="access_log_day"),
        ]

    def __str__(self) -> str:
        return f"{self.viewer_id} · {self.creator_id} · {self.page} · {self.day}"


# --- delegations (子账号授权, SPEC §12) -------------------------------------------------------------


class DelegationState(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("delegation state", "生效中")
    WAITING = "waiting", _("待授权生效")
    LAPSED = "lapsed", _("已失效")
    EXPIRED = "expired", _("已到期")
    ENDED = "ended", _("已结束")


def delegation_effective_q(day: datetime.date) -> Q:
    """The definition of an effective delegation on ``day`` (SPEC §12), checked by the database: not
    ended, ``ends_on`` not passed, its grant active and still allowing delegation, and the
    sub-account still a sub-account of the grant's organization. The scope it opens is the AND of
    its scope and the grant's (``DelegationQuerySet.effective_on`` also requires that non-empty).
    Nothing flips a delegation when the grant is revoked, expires or is narrowed, or when the
    sub-account leaves: the delegation simply stops matching."""
    return Q(
        ended_at__isnull=True,
        ends_on__gte=day,
        grant__revoked_at__isnull=True,
        grant__starts_on__lte=day,
        grant__ends_on__gte=day,
        grant__delegation_allowed=True,
        sub_account__membership__organization_id=F("grant__organization_id"),
        sub_account__membership__role=Membership.Role.SUB,
    )


class DelegationQuerySet(models.QuerySet):
    def for_grant(self, grant) -> DelegationQuerySet:
        return self.filter(grant=grant)

    def for_sub_account(self, user) -> DelegationQuerySet:
        return self.filter(sub_account=user)

    def not_ended(self) -> DelegationQuerySet:
        return self.filter(ended_at__isnull=True)

    def open(self, day: datetime.date | None = None) -> DelegationQuerySet:
        """Not ended and not past its end: the one a new delegation of the same pair would clash with."""
        return self.filter(ended_at__isnull=True, ends_on__gte=day or today())

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
