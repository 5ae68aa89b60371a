"""``manage.py purge_access_log``: delete the data-access log's rows older than 180 days (SPEC §11:
storage stays bounded). The scheduled worker runs it daily (``settings.PERIODIC_JOBS``)."""

from django.core.management.base import BaseCommand

from grants import access_log
from grants.models import ACCESS_LOG_RETENTION_DAYS, today


class Command(BaseCommand):
    help = f"Delete data-access log rows older than {ACCESS_LOG_RETENTION_DAYS} days (Asia/Shanghai)."

    def handle(self, *args, **options):
        deleted = access_log.purge(today=today())
        if options["verbosity"] >= 1:
            self.stdout.write(f"purge_access_log: {deleted} row(s) older than {ACCESS_LOG_RETENTION_DAYS} days deleted")
