"""The scheduled reminders of SPEC §10 (``manage.py send_reminders``, hourly), each exactly once.

What is sent, as of "now" and today in Asia/Shanghai, and only what is true now:

- a grant that ends in 7 days (``ends_on`` = today + 7) and one that ends today (今天到期): its
  creator and its organization's main account (``notices.grant_audiences``; delegates join there);
- a request (full-data, extension or livestream) that has waited 5 days undecided: its creator;
- a request that expired undecided (pending 7 days): the requesting organization (full-data and
  extension: the main account; livestream: the requester and the main account). Expiries of the
  last ``EXPIRY_LOOKBACK`` are told; older ones (before the job ever ran) are history. A request
  closed as expired because its organization asked again (stored "expired") is not told: the
  organization has already seen it and acted.

A job that did not run for days sends nothing stale: each threshold is an equality on today's date
or a window ending now (a grant with 2 days left is neither "7 days" nor "today"; a request that
expired while the job was down gets its expiry notice, not its 5-day nudge).

**Exactly once**: each reminder is a ``Reminder`` row, unique per (grant, threshold, recipient, the
grant's end) or (request, threshold, recipient). A batch inserts its rows with ``ON CONFLICT DO
NOTHING`` under a random claim (``run``), reads back the rows that carry its claim — the ones it
inserted itself — and writes the messages for those only, in the same transaction. Two runs at the
same moment: the second insert waits on the unique index for the first to commit, then skips those
rows. A crash halfway: the batches already committed are complete (reminder rows and their
messages together), the rest is rolled back, and the next run does it. A renewal moves the end, so
the renewed grant's reminders are new rows.

**Cost**: the rows read are only those due (the grants ending on one day, the requests stored as
pending in a window of age), through partial indexes (``grant_ending_on``, ``*_pending_age``), in
batches of ``batch_size`` by id; each batch costs the same few queries whatever its size (read and
lock the batch, its main accounts, insert the claims, read them back, insert the messages; the
emails go as one task after the commit).
"""

from __future__ import annotations

import datetime
import secrets
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications import services as inbox
from portal.models import Membership

from . import notices
from .models import REQUEST_TTL, Grant, GrantRequest, LivestreamAccessRequest, Reminder, RequestStatus
from .models import ReminderThreshold as T

BATCH_SIZE = 500
WAITING = datetime.timedelta(days=5)
EXPIRY_LOOKBACK = datetime.timedelta(days=7)

GRANT_THRESHOLDS = ((T.ENDS_IN_7_DAYS, 7, "grant_ends_in_7_days"), (T.ENDS_TODAY, 0, "grant_ends_today"))


def send_reminders(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Send every reminder due now that was not sent yet; returns the messages written per threshold."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = dict.fromkeys(T.values, 0)
    for threshold, days, kind in GRANT_THRESHOLDS:
        ends_on = today + datetime.timedelta(days=days)
        due = Grant.objects.filter(revoked_at__isnull=True, ends_on=ends_on)
        due = due.select_related("creator__user", "organization")
        sent[threshold] += _in_batches(due, batch_size, partial(_grant_batch, threshold=threshold, kind=kind))
    waiting = Q(status=RequestStatus.PENDING, created_at__gte=now - REQUEST_TTL, created_at__lte=now - WAITING)
    expired = Q(status=RequestStatus.PENDING, created_at__lt=now - REQUEST_TTL)
    expired &= Q(created_at__gte=now - REQUEST_TTL - EXPIRY_LOOKBACK)
    grant_requests = GrantRequest.objects.select_related("creator__user", "organization")
    livestream_requests = LivestreamAccessRequest.objects.select_related(
        "creator__user", "organization", "livestream", "requested_by"
    )
    for threshold, window in ((T.WAITING_5_DAYS, waiting), (T.EXPIRED, expired)):
        sent[threshold] += _in_batches(
            grant_requests.filter(window), batch_size, partial(_grant_request_batch, threshold=threshold)
        )
        sent[threshold] += _in_batches(
            livestream_requests.filter(window), batch_size, partial(_livestream_request_batch, threshold=threshold)
        )
    return sent


def _in_batches(queryset, batch_size: int, handle) -> int:
    """``handle(batch)`` for the rows of ``queryset`` by id, ``batch_size`` at a time, each batch
    read, row-locked (a revoke or a decision racing the job waits, or goes first and is seen) and
    handled in one transaction. Returns the sum of what ``handle`` returned."""
    last, total = 0, 0
    while True:
        with transaction.atomic():
            batch = list(queryset.filter(pk__gt=last).order_by("pk").select_for_update(of=("self",))[:batch_size])
            if not batch:
                # Only an empty batch ends the loop: a short one may be short because a row it waited
                # for stopped matching (revoked, decided), not because the rows ran out.
                return total
            total += handle(batch)
        last = batch[-1].pk


def _claim(rows: list[Reminder], subject: str, ids: list[int], **match) -> set[tuple[int, int]]:
    """Insert the reminder rows that do not exist yet; (subject id, recipient id) of the rows this
    call inserted.

    The rows already there are looked up first (one query), so an hourly rerun on a day with many
    reminders due writes nothing and costs one read per batch; that look-up is only a shortcut:
    what makes each reminder exactly once is the insert — ``ON CONFLICT DO NOTHING`` against the
    unique indexes — and reading back only the rows carrying this batch's claim (two queries).
    """
    if not rows:
        return set()
    run, threshold = rows[0].run, rows[0].threshold
    mine = Reminder.objects.filter(**{f"{subject}__in": ids}, threshold=threshold, **match)
    sent = set(mine.values_list(subject, "recipient_id"))
    rows = [row for row in rows if (getattr(row, subject), row.recipient_id) not in sent]
    if not rows:
        return set()
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return set(mine.filter(run=run).values_list(subject, "recipient_id"))


def _grant_batch(grants: list[Grant], *, threshold: str, kind: str) -> int:
    run = secrets.token_hex(16)
    audiences = notices.grant_audiences(grants)
    rows = [
        Reminder(grant=grant, threshold=threshold, recipient=user, ends_on=grant.ends_on, run=run)
        for grant in grants
        for user, _side in audiences[grant.pk]
    ]
    # (one batch is one day's ends: the grants were read by ends_on)
    mine = _claim(rows, "grant_id", [grant.pk for grant in grants], ends_on=grants[0].ends_on)
    notes = [
        (
            user,
            kind,
            {
                "creator": grant.creator.name,
                "organization": grant.organization.name,
                "ends_on": grant.ends_on.isoformat(),
                "side": side,
            },
            # a delegate has no grant page: its 个人中心 lists what was delegated to it, until when
            reverse("grants:org_home") if side == "delegate" else reverse("grants:grant_detail", args=[grant.pk]),
        )
        for grant in grants
        for user, side in audiences[grant.pk]
        if (grant.pk, user.pk) in mine
    ]
    inbox.notify_each(notes)
    return len(notes)


def _main_accounts(organization_ids) -> dict[int, list]:
    found: dict[int, list] = {}
    for membership in Membership.objects.select_related("user").filter(
        organization_id__in=set(organization_ids), role=Membership.Role.MAIN
    ):
        found.setdefault(membership.organization_id, []).append(membership.user)
    return found


def _grant_request_batch(requests: list[GrantRequest], *, threshold: str) -> int:
    run = secrets.token_hex(16)
    if threshold == T.WAITING_5_DAYS:
        audiences = {r.pk: [r.creator.user] for r in requests}
        kind = "grant_request_waiting"
    else:
        mains = _main_accounts(r.organization_id for r in requests)
        audiences = {r.pk: mains.get(r.organization_id, []) for r in requests}
        kind = "grant_request_expired"
    rows = [
        Reminder(grant_request=r, threshold=threshold, recipient=user, run=run)
        for r in requests
        for user in audiences[r.pk]
    ]
    mine = _claim(rows, "grant_request_id", [r.pk for r in requests])
    notes = [
        (
            user,
            kind,
            {"creator": r.creator.name, "organization": r.organization.name, "request_kind": r.kind},
            reverse("grants:grant_request_detail", args=[r.pk]),
        )
        for r in requests
        for user in audiences[r.pk]
        if (r.pk, user.pk) in mine
    ]
    inbox.notify_each(notes)
    return len(notes)


def _livestream_request_batch(requests: list[LivestreamAccessRequest], *, threshold: str) -> int:
    run = secrets.token_hex(16)
    if threshold == T.WAITING_5_DAYS:
        audiences = {r.pk: [r.creator.user] for r in requests}
        kind = "livestream_request_waiting"
    else:
        mains = _main_accounts(r.organization_id for r in requests)
        audiences = {r.pk: _unique([r.requested_by, *mains.get(r.organization_id, [])]) for r in requests}
        kind = "livestream_request_expired"
    rows = [
        Reminder(livestream_request=r, threshold=threshold, recipient=user, run=run)
        for r in requests
        for user in audiences[r.pk]
    ]
    mine = _claim(rows, "livestream_request_id", [r.pk for r in requests])
    notes = []
    for r in requests:
        params = {
            "creator": r.creator.name,
            "livestream": r.livestream.title,
            "organization": r.organization.name,
        }
        if threshold == T.WAITING_5_DAYS:
            link = reverse("grants:creator_requests") + f"#request-row-{r.pk}"
        else:
            link = reverse("livestreams:detail", args=[r.livestream_id])
        notes += [(user, kind, params, link) for user in audiences[r.pk] if (r.pk, user.pk) in mine]
    inbox.notify_each(notes)
    return len(notes)


def _unique(users: list) -> list:
    return list({user.pk: user for user in users if user is not None}.values())
