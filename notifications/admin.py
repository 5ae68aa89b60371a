"""Admin for staff: messages and settings, read-only (messages are written by the services only)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import CalendarFeed, Message, NotificationSettings, PeriodicJob


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "text_shown", "read_at", "emailed_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter), ("emailed_at", admin.EmptyFieldListFilter))
    search_fields = ("recipient__username", "recipient__email", "kind")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"

    @admin.display(description=_("内容"))
    def text_shown(self, obj):
        return obj.text


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(ReadOnlyAdmin):
    list_display = ("user", "email_requests", "email_decisions", "email_reminders", "language", "updated_at")
    list_filter = ("email_requests", "email_decisions", "email_reminders", "language")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)


@admin.register(PeriodicJob)
class PeriodicJobAdmin(ReadOnlyAdmin):
    """The periodic jobs (``settings.PERIODIC_JOBS``) and when each is next due."""

    list_display = ("name", "due_at", "last_claimed_at", "last_claimed_by")
    search_fields = ("name",)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    """Who has a calendar URL, and since when — never the token itself."""

    list_display = ("user", "created_at")
    fields = ("user", "created_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
