"""Admin for staff: grants and their history, searchable and filterable, read-only.

Every change to a grant goes through grants/services.py (rules, locking, history), and only the
owning creator may act, so the admin shows grants but does not edit them.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin_base import ReadOnlyAdmin, ReadOnlyInline

from .models import Grant, GrantEvent, GrantStatus, LivestreamAccessEvent, LivestreamAccessRequest, status_q, today


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


@admin.register(LivestreamAccessRequest)
class LivestreamAccessRequestAdmin(ReadOnlyAdmin):
    list_display = ("livestream", "creator", "organization", "requested_by", "status", "created_at", "decided_at")
    list_filter = ("status", "organization__kind")
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
