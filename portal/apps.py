from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("参与方")

    def ready(self):
        from django.urls import register_converter

        from .converters import IdConverter

        # <id:...> in every app's URLs: primary keys of at most 18 digits (a longer one is a 404).
        register_converter(IdConverter, "id")
