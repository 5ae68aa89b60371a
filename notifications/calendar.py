"""The private calendar feed (SPEC §10): iCalendar (RFC 5545) built with ``icalendar``.

The notifications app owns the URL, its token and the format; what goes in it comes from the apps
above, as with the kinds of message: ``grants`` registers a source (``grants/calendar.py``) that
answers, for a user, whether they have a feed at all and which events are theirs. Each event is an
all-day event with alarms 7 days and 1 day before; its UID is stable (the source names it after
what it is about, e.g. the grant), so a calendar program updates the event when a renewal moves it
instead of adding a second one.
"""

from __future__ import annotations

import datetime
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from icalendar import Alarm, Calendar, Event

from .models import CalendarFeed, NotificationSettings

ALARMS_DAYS_BEFORE = (7, 1)
SEQUENCE_EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_-]{1,200}")


@dataclass(frozen=True)
class Entry:
    uid: str  # stable: the same thing keeps the same UID whatever its date becomes
    day: datetime.date  # the all-day event's date
    summary: str
    description: str
    link: str  # a path of the portal
    modified: datetime.datetime  # bumps SEQUENCE when the thing changes


@dataclass(frozen=True)
class Source:
    eligible: Callable  # (user) -> bool: does this user have a calendar at all
    entries: Callable  # (user) -> Iterable[Entry], in the active language


_SOURCES: list[Source] = []


def register(*, eligible: Callable, entries: Callable) -> None:
    _SOURCES.append(Source(eligible=eligible, entries=entries))


def has_calendar(user) -> bool:
    return any(source.eligible(user) for source in _SOURCES)


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed whose URL holds ``token``, or None: the selector finds the row, the secret is
    compared in constant time."""
    selector, secret = token[: CalendarFeed.SELECTOR_LENGTH], token[CalendarFeed.SELECTOR_LENGTH :]
    if len(selector) != CalendarFeed.SELECTOR_LENGTH or not secret or not TOKEN_CHARACTERS.fullmatch(token):
        return None  # (a NUL or a non-ASCII character never reaches the database)
    feed = CalendarFeed.objects.select_related("user").filter(selector=selector).first()
    if feed is None or not hmac.compare_digest(feed.secret.encode(), secret.encode()):
        return None
    if not feed.user.is_active or not has_calendar(feed.user):
        return None
    return feed


def render(user, *, now: datetime.datetime | None = None) -> bytes:
    """The user's calendar, in their notification language."""
    now = now or timezone.now()
    base = settings.PORTAL_BASE_URL.rstrip("/")
    with translation.override(NotificationSettings.of(user).language):
        calendar = Calendar()
        calendar.add("prodid", "-//creator-data-portal//calendar//ZH")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", translation.gettext("数据授权到期"))
        calendar.add("x-wr-timezone", settings.TIME_ZONE)
        for entry in _entries(user):
            calendar.add_component(_event(entry, base=base, now=now))
    return calendar.to_ical()


def _entries(user) -> Iterable[Entry]:
    for source in _SOURCES:
        if source.eligible(user):
            yield from source.entries(user)


def _event(entry: Entry, *, base: str, now: datetime.datetime) -> Event:
    event = Event()
    event.add("uid", entry.uid)
    event.add("dtstamp", now)
    event.add("dtstart", entry.day)
    event.add("dtend", entry.day + datetime.timedelta(days=1))
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    event.add("url", base + entry.link)
    event.add("last-modified", entry.modified)
    event.add("sequence", int((entry.modified - SEQUENCE_EPOCH).total_seconds()))  # grows with each change
    event.add("transp", "TRANSPARENT")  # an end date, not a busy day
    for days in ALARMS_DAYS_BEFORE:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", entry.summary)
        alarm.add("trigger", datetime.timedelta(days=-days))
        event.add_component(alarm)
    return event
