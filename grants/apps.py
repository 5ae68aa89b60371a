from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = _("数据授权")

    def ready(self) -> None:
        # The kinds of message grants sends are registered with the inbox when the app is ready.
        from . import calendar, notices  # noqa: F401  (and what the calendar feed shows)
