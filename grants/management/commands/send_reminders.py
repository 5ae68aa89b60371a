"""``manage.py send_reminders``: the reminders of SPEC §10 that are due now, each exactly once
(``grants/reminders.py``). Safe to run at any time, twice, or on two machines at once; the worker
(``manage.py worker``, started by ``make run``) runs it every hour by itself."""

from django.core.management.base import BaseCommand

from grants.reminders import BATCH_SIZE, send_reminders


class Command(BaseCommand):
    help = "Send the expiry reminders, request nudges and expiry notices that are due (idempotent)"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="rows per transaction")

    def handle(self, *args, batch_size: int, **options):
        sent = send_reminders(batch_size=batch_size)
        self.stdout.write(" ".join(f"{threshold}={count}" for threshold, count in sent.items()))
