"""The private calendar feed (SPEC §10): parsed back with ``icalendar``; one all-day event on the
last day of each scheduled/active grant of the user's, with alarms 7 and 1 day before; UIDs that
survive a renewal; the URL shown and regenerated in 通知设置 (the old one then a 404); no session,
no cookie, ``Cache-Control: private``; the token never in the logs."""

import datetime
import logging

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from icalendar import Calendar

from grants import services
from grants.factories import GrantFactory
from notifications import services as inbox
from notifications.models import CalendarFeed
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import d

pytestmark = pytest.mark.django_db


def feed_url(user) -> str:
    return reverse("notifications:calendar_feed", args=[inbox.regenerate_calendar_feed(actor=user).token])


def events(client, url) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def world(frozen_today):
    creator = CreatorFactory(name="小雅")
    shop, agency, old = ShopFactory(name="甲店"), ShopFactory(name="乙店"), ShopFactory(name="丙店")
    return {
        "creator": creator,
        "active": GrantFactory(creator=creator, organization=shop, starts_on=d(-10), ends_on=d(20)),
        "scheduled": GrantFactory(creator=creator, organization=agency, starts_on=d(5), ends_on=d(40)),
        "expired": GrantFactory(creator=creator, organization=old, expired=True),
        "revoked": GrantFactory(creator=creator, revoked=True),
        "foreign": GrantFactory(organization=shop, ends_on=d(3)),
        "shop": shop,
    }


def test_the_creators_feed_has_an_all_day_event_on_each_live_grants_last_day(client, world):
    feed = events(client, feed_url(world["creator"].user))
    active, scheduled = world["active"], world["scheduled"]
    assert set(feed) == {f"grant-{active.pk}@127.0.0.1", f"grant-{scheduled.pk}@127.0.0.1"}
    event = feed[f"grant-{active.pk}@127.0.0.1"]
    assert event.decoded("DTSTART") == d(20)
    assert event["DTSTART"].params.get("VALUE") == "DATE"
    assert event.decoded("DTEND") == d(21)
    assert "甲店" in str(event["SUMMARY"])
    assert str(event["URL"]).endswith(reverse("grants:grant_detail", args=[active.pk]))
    triggers = sorted(alarm.decoded("TRIGGER") for alarm in event.walk("VALARM"))
    assert triggers == [datetime.timedelta(days=-7), datetime.timedelta(days=-1)]
    assert all(str(alarm["ACTION"]) == "DISPLAY" for alarm in event.walk("VALARM"))


def test_the_main_accounts_feed_has_its_organizations_grants(client, world):
    feed = events(client, feed_url(world["shop"].main_account))
    assert set(feed) == {f"grant-{world['active'].pk}@127.0.0.1", f"grant-{world['foreign'].pk}@127.0.0.1"}
    assert "小雅" in str(feed[f"grant-{world['active'].pk}@127.0.0.1"]["SUMMARY"])


def test_a_renewal_moves_the_event_under_the_same_uid(client, world, frozen_today):
    url = feed_url(world["creator"].user)
    uid = f"grant-{world['active'].pk}@127.0.0.1"
    before = events(client, url)[uid]
    frozen_today.shift(datetime.timedelta(minutes=5))
    services.renew_early(grant=world["active"], ends_on=d(60), actor=world["creator"].user)
    after = events(client, url)
    assert len(after) == 2
    assert after[uid].decoded("DTSTART") == d(60)
    assert int(after[uid]["SEQUENCE"]) > int(before["SEQUENCE"])
    services.revoke(grant=world["active"], actor=world["creator"].user)
    assert uid not in events(client, url)


def test_regenerating_makes_the_old_url_a_404(client, world):
    user = world["creator"].user
    old = feed_url(user)
    new = feed_url(user)
    assert old != new
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert CalendarFeed.objects.count() == 1


def test_the_feed_sets_no_cookie_touches_no_session_and_is_private(client, world):
    response = client.get(feed_url(world["creator"].user))
    assert response.status_code == 200
    assert response.cookies == {} or not any(response.cookies.values())
    assert "Cookie" not in response.get("Vary", "")
    assert "private" in response["Cache-Control"]
    assert not Session.objects.exists()
    # A signed-in browser opening it: the same answer, and its session untouched.
    client.force_login(world["creator"].user)
    key = client.session.session_key
    response = client.get(feed_url(world["creator"].user))
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    assert client.session.session_key == key


def test_the_token_is_long_random_and_not_in_the_logs(client, world, caplog):
    feed = inbox.regenerate_calendar_feed(actor=world["creator"].user)
    assert len(feed.secret) >= 43  # secrets.token_urlsafe(32)
    url = reverse("notifications:calendar_feed", args=[feed.token])
    inbox.regenerate_calendar_feed(actor=world["creator"].user)
    with caplog.at_level(logging.INFO):
        assert client.get(url).status_code == 404  # the old URL: Django logs the 404
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/calendar/" in logged
    assert feed.secret not in logged
    assert feed.selector not in logged


def test_the_settings_page_shows_the_url_and_regenerates_it(client, world):
    user = world["creator"].user
    client.force_login(user)
    page = client.get(reverse("notifications:settings")).content.decode()
    assert "生成订阅链接" in page
    assert ".ics" not in page
    response = client.post(reverse("notifications:regenerate_calendar"))
    assert response.status_code == 302
    first = CalendarFeed.objects.get(user=user).token
    page = client.get(reverse("notifications:settings")).content.decode()
    assert f"http://testserver/calendar/{first}.ics" in page
    assert "重新生成" in page
    client.post(reverse("notifications:regenerate_calendar"))
    assert CalendarFeed.objects.get(user=user).token != first


def test_sub_accounts_have_no_calendar(client, world):
    sub = SubAccountFactory(organization=world["shop"])
    client.force_login(sub)
    assert "日历订阅" not in client.get(reverse("notifications:settings")).content.decode()
    assert client.post(reverse("notifications:regenerate_calendar")).status_code == 403
    assert not CalendarFeed.objects.exists()


def test_the_feed_is_in_the_users_email_language(client, world):
    user = world["creator"].user
    inbox.update_settings(
        actor=user, email="", email_requests=True, email_decisions=True, email_reminders=True, language="en"
    )
    feed = events(client, feed_url(user))
    assert all("甲店" in str(e["SUMMARY"]) or "乙店" in str(e["SUMMARY"]) for e in feed.values())
    assert any("expires" in str(e["SUMMARY"]).lower() for e in feed.values())


def test_an_inactive_user_or_a_user_no_longer_main_has_no_feed(client, world):
    user = world["shop"].main_account
    url = feed_url(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(url).status_code == 404
