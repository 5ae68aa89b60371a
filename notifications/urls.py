from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<id:message_id>/", views.open_message, name="open"),
    path("inbox/read-all/", views.mark_all_read, name="mark_all_read"),
    path("settings/notifications/", views.settings_view, name="settings"),
    path("settings/notifications/calendar/", views.regenerate_calendar, name="regenerate_calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
