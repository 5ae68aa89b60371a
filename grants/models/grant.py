"""Full-data grants (全部带货数据授权): their status derived from the time, their scope (SPEC §12), their
immutable history.

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

from .history import HistoryQuerySet, ImmutableModel
from .log import AccessLogEntry
from .scopes import FULL_SCOPE, parts_of, scope_labels


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
# An active grant with no view under it for this many days is idle (闲置, SPEC §11).
IDLE_AFTER_DAYS = 14


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
            models.Index(fields=["creator", "ends_on", "id"], condition=Q(is_latest=True), name="grant_creator_list"),
            models.Index(fields=["organization", "ends_on", "id"], condition=Q(is_latest=True), name="grant_org_list"),
            # A page of a list reads three ranges of these (see GrantQuerySet._nearest_expiry_slice),
            # and each capped status count one range, from the index alone (starts_on is in it). The
            # id is in each too: a deep page skips thousands of keys, read from the index alone (an
            # index-only scan), in the list's order (ends_on, then id) where the range goes backwards.
            models.Index(
                fields=["creator", "ends_on", "starts_on", "id"],
                condition=Q(is_latest=True, revoked_at__isnull=True),
                name="grant_creator_unrevoked",
            ),
            models.Index(
                fields=["organization", "ends_on", "starts_on", "id"],
                condition=Q(is_latest=True, revoked_at__isnull=True),
                name="grant_org_unrevoked",
            ),
            models.Index(
                fields=["creator", "ends_on", "id"],
                condition=Q(is_latest=True, revoked_at__isnull=False),
                name="grant_creator_revoked",
            ),
            models.Index(
                fields=["organization", "ends_on", "id"],
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
