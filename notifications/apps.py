from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("消息中心")

    def ready(self):
        # The bell's unread count is read by the query that loads the request's user.
        from portal.backends import annotate_users

        from .context_processors import USER_ANNOTATION, unread_annotation

        annotate_users(USER_ANNOTATION, unread_annotation)
