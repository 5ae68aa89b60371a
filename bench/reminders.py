"""The reminder job's figures (issue 14): ``send_reminders`` at a million grants.

- **nothing due**: a day on which no grant of the data set ends in 7 days or today (and no request
  is due): what an hourly run costs when it has nothing to do — the goal is under 1 s;
- **10,000 due**: 10,000 live grants spread over the table moved to end 7 days after that day, so
  10,000 grants × (creator + main account) reminders are due: the run's time, per reminder written
  (its ``Reminder`` row and its message), and the rerun right after (everything already sent);
- **the data set's today**: what is due today in the data set as built (its own spread of ends).

Each due case runs inside a transaction rolled back at the end (the batches' transactions are then
savepoints), so the data set is left as it was; the emails, queued after a commit as one task per
batch, are therefore not part of the figure (the data set's users have no email address anyway).
"""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

DUE = 10_000
FAR_DAY = datetime.date(2099, 1, 5)  # no grant of the data set ends within weeks of it


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _at_nine(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


def _timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


class _Rollback(Exception):
    pass


def _in_rolled_back_transaction(call):
    result = None
    try:
        with transaction.atomic():
            result = call()
            raise _Rollback
    except _Rollback:
        pass
    return result


def measure_reminders(quick: bool) -> dict:
    from grants.models import Grant
    from grants.reminders import BATCH_SIZE, send_reminders

    repeats = 2 if quick else 3
    now = _at_nine(FAR_DAY)
    grants = Grant.objects.count()
    month = datetime.timedelta(days=30)
    clash = Grant.objects.filter(ends_on__range=(FAR_DAY - month, FAR_DAY + month))
    assert not clash.exists(), "the bench's far day is not free of grant ends"

    nothing = []
    for _ in range(repeats * 2):
        seconds, sent = _timed(lambda: send_reminders(now=now))
        assert sum(sent.values()) == 0, sent
        nothing.append(seconds)
    log(f"  nothing due: {[round(s, 4) for s in nothing]} s")

    ids_sql = "SELECT id FROM grants_grant WHERE revoked_at IS NULL AND id %% 41 = 0 ORDER BY id LIMIT %s"

    def due_run():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE grants_grant SET ends_on = %s WHERE id IN ({ids_sql})",  # noqa: S608 - constants
                [FAR_DAY + datetime.timedelta(days=7), DUE],
            )
            moved = cursor.rowcount
        first, sent = _timed(lambda: send_reminders(now=now))
        again, resent = _timed(lambda: send_reminders(now=now))
        assert sum(resent.values()) == 0, resent
        return {"moved": moved, "seconds": first, "sent": sum(sent.values()), "rerun_seconds": again}

    def vacuumed(run):
        # A rolled-back run leaves dead rows and index entries behind; autovacuum would clear them
        # between hourly runs, so each run here starts from vacuumed tables too.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM grants_grant, grants_reminder, notifications_message")
        return _in_rolled_back_transaction(run)

    due = [vacuumed(due_run) for _ in range(repeats)]
    for run in due:
        log(f"  {run['moved']:,} due: {run['seconds']:.2f} s, {run['sent']:,} sent; rerun {run['rerun_seconds']:.2f} s")

    def today_run():
        first, sent = _timed(lambda: send_reminders())
        again, _resent = _timed(lambda: send_reminders())
        return {"seconds": first, "sent": sent, "rerun_seconds": again}

    today = timezone.localdate()
    today_due = Grant.objects.filter(
        revoked_at__isnull=True, ends_on__in=[today, today + datetime.timedelta(days=7)]
    ).count()
    data_set_today = vacuumed(today_run)
    log(f"  the data set's today ({today_due:,} grants due): {data_set_today}")

    plan = (
        Grant.objects.filter(revoked_at__isnull=True, ends_on=FAR_DAY)
        .filter(pk__gt=0)
        .order_by("pk")
        .select_for_update(of=("self",))[:BATCH_SIZE]
    )
    with transaction.atomic():
        explain = plan.explain()
    seconds = statistics.median(run["seconds"] for run in due)
    sent = due[0]["sent"]
    return {
        "grants": grants,
        "batch_size": BATCH_SIZE,
        "nothing_due_s": round(statistics.median(nothing), 4),
        "nothing_due_runs_s": [round(s, 4) for s in nothing],
        "due_grants": due[0]["moved"],
        "due_reminders": sent,
        "due_s": round(seconds, 3),
        "due_runs_s": [round(run["seconds"], 3) for run in due],
        "per_reminder_ms": round(1000 * seconds / sent, 3) if sent else None,
        "rerun_all_sent_s": round(statistics.median(run["rerun_seconds"] for run in due), 3),
        "data_set_today": {
            "grants_due": today_due,
            "sent": data_set_today["sent"],
            "seconds": round(data_set_today["seconds"], 3),
            "rerun_seconds": round(data_set_today["rerun_seconds"], 3),
        },
        "explain_due_grants": explain,
    }


def report(reminders: dict) -> None:
    r = reminders
    print("\n== reminders (send_reminders) ==")
    print(f"  {r['grants']:,} grants; batches of {r['batch_size']}")
    print(f"  nothing due: {r['nothing_due_s'] * 1000:.1f} ms  (runs {r['nothing_due_runs_s']} s)")
    print(
        f"  {r['due_grants']:,} grants due: {r['due_s']:.2f} s for {r['due_reminders']:,} reminders = "
        f"{r['per_reminder_ms']} ms per reminder (runs {r['due_runs_s']} s); "
        f"rerun with everything sent {r['rerun_all_sent_s']:.2f} s"
    )
    t = r["data_set_today"]
    print(
        f"  the data set's today: {t['grants_due']:,} grants due, sent {t['sent']}, {t['seconds']} s "
        f"(rerun {t['rerun_seconds']} s)"
    )
    print("  EXPLAIN the due grants' read:")
    for line in r["explain_due_grants"].splitlines():
        print(f"    {line}")
