"""Admin for staff: grants and their history, searchable and filterable, read-only.

Every change to a grant goes through grants/services.py (rules, locking, history), and only the
owning creator may act, so the admin shows grants but does not edit them.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin_base import ReadOnlyAdmin, ReadOnlyInline

from .models import (
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
    Reminder,
    RequestStatus,
    request_status_q,
    status_q,
    today,
)


class StatusFilter(admin.SimpleListFilter):
    """Status is derived from the dates and today, so it filters by the same rule, not a column."""

    title = _("状态")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return GrantStatus.choices

    def queryset(self, request, queryset):
        if self.value() in GrantStatus.values:
            return queryset.filter(status_q(self.value(), today()))
        return queryset


class GrantEventInline(ReadOnlyInline, admin.TabularInline):
    model = GrantEvent
    fields = (
        "at",
        "operation",
        "actor",
        "starts_before",
        "ends_before",
        "starts_after",
        "ends_after",
        "renewal_starts_on",
    )


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = (
        "creator",
        "organization",
        "starts_on",
        "ends_on",
        "status_badge",
        "days_left",
        "is_latest",
        "created_at",
    )
    list_filter = (StatusFilter, "organization__kind", "is_latest")
    search_fields = ("creator__name", "creator__douyin_id", "organization__name", "organization__code")
    list_select_related = ("creator", "organization")
    date_hierarchy = "ends_on"
    inlines = [GrantEventInline]

    @admin.display(description=_("状态"))
    def status_badge(self, obj):
        return obj.status.label

    @admin.display(description=_("剩余天数"))
    def days_left(self, obj):
        return obj.days_left


@admin.register(GrantEvent)
class GrantEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "operation", "grant", "actor", "starts_before", "ends_before", "starts_after", "ends_after")
    list_filter = ("operation",)
    search_fields = ("grant__creator__name", "grant__organization__name", "actor__username")
    list_select_related = ("grant__creator", "grant__organization", "actor")
    date_hierarchy = "at"


class LivestreamAccessEventInline(ReadOnlyInline, admin.TabularInline):
    model = LivestreamAccessEvent
    fields = ("at", "operation", "actor")


class RequestStatusFilter(admin.SimpleListFilter):
    """A request's status now: a request pending for more than 7 days is expired (derived, like a
    grant's status), so it filters by the same rule, not by the stored column."""

    title = _("状态")
    parameter_name = "status"
    statuses = RequestStatus

    def lookups(self, request, model_admin):
        return self.statuses.choices

    def queryset(self, request, queryset):
        if self.value() in self.statuses.values:
            return queryset.filter(request_status_q(self.value()))
        return queryset


class GrantRequestStatusFilter(RequestStatusFilter):
    statuses = GrantRequestStatus


@admin.register(LivestreamAccessRequest)
class LivestreamAccessRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "livestream", "creator", "organization", "requested_by", "status", "reason", "created_at", "decided_at",
    )  # fmt: skip
    list_filter = (RequestStatusFilter, "organization__kind")
    search_fields = (
        "livestream__title", "livestream__external_id", "creator__name", "creator__douyin_id", "organization__name",
        "requested_by__username",
    )  # fmt: skip
    list_select_related = ("livestream", "creator", "organization", "requested_by")
    date_hierarchy = "created_at"
    inlines = [LivestreamAccessEventInline]


@admin.register(LivestreamAccessEvent)
class LivestreamAccessEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "operation", "request", "actor")
    list_filter = ("operation",)
    search_fields = ("request__livestream__title", "request__organization__name", "actor__username")
    list_select_related = ("request__livestream", "request__organization", "actor")
    date_hierarchy = "at"


class GrantRequestEventInline(admin.TabularInline):
    model = GrantRequestEvent
    extra = 0
    can_delete = False
    fields = ("at", "operation", "actor", "starts_on", "ends_on")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GrantRequest)
class GrantRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "creator", "organization", "kind", "starts_on", "ends_on", "status", "reason", "decided_at",
    )  # fmt: skip
    list_filter = (GrantRequestStatusFilter, "kind", "organization__kind")
    search_fields = ("creator__name", "creator__douyin_id", "organization__name", "requested_by__username")
    list_select_related = ("creator", "organization")
    date_hierarchy = "created_at"
    inlines = [GrantRequestEventInline]


@admin.register(GrantRequestEvent)
class GrantRequestEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "operation", "request", "actor", "starts_on", "ends_on")
    list_filter = ("operation",)
    search_fields = ("request__creator__name", "request__organization__name", "actor__username")
    list_select_related = ("request__creator", "request__organization", "actor")
    date_hierarchy = "at"


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    """Reminders delivered by ``send_reminders`` (each exactly once: see ``grants/reminders.py``)."""

    list_display = ("sent_at", "threshold", "recipient", "grant", "grant_request", "livestream_request", "ends_on")
    list_filter = ("threshold",)
    search_fields = ("recipient__username",)
    list_select_related = ("recipient",)
    raw_id_fields = ("grant", "grant_request", "livestream_request", "recipient")
    date_hierarchy = "sent_at"


class DelegationEventInline(ReadOnlyInline, admin.TabularInline):
    model = DelegationEvent
    fields = ("at", "operation", "actor", "ends_on", "scope")


@admin.register(Delegation)
class DelegationAdmin(ReadOnlyAdmin):
    """子账号授权 (SPEC §12), read-only: the main account makes and ends them, the creator forbids them."""

    list_display = ("created_at", "grant", "sub_account", "ends_on", "scope", "ended_at")
    search_fields = ("grant__creator__name", "grant__organization__name", "sub_account__username")
    list_select_related = ("grant__creator", "grant__organization", "sub_account")
    date_hierarchy = "created_at"
    inlines = [DelegationEventInline]
