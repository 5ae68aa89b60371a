"""The scheduled reminders (SPEC §10, issue 14): what is sent, to whom, and exactly once — run twice,
after a crash halfway, after days without a run, after a renewal — at the midnight boundaries of
Asia/Shanghai. Two concurrent runs on PostgreSQL: ``test_reminders_races.py``."""

import datetime
from collections import Counter
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection

from grants import reminders, services
from grants.factories import GrantFactory, GrantRequestFactory, LivestreamAccessRequestFactory
from grants.models import Reminder
from livestreams.factories import LivestreamFactory
from notifications import services as inbox
from notifications.models import Message, NotificationSettings
from portal.factories import ShopFactory, SubAccountFactory

from .conftest import TODAY, at_shanghai, d

pytestmark = pytest.mark.django_db


def sent() -> Counter:
    """(kind, recipient id, grant/request link) → how many messages."""
    return Counter(Message.objects.values_list("kind", "recipient_id", "link"))


def kinds_to(user) -> list[str]:
    return sorted(Message.objects.for_recipient(user).values_list("kind", flat=True))


def test_ends_in_7_days_reaches_the_creator_and_the_main_account_once(frozen_today):
    grant = GrantFactory(ends_on=d(7))
    other = GrantFactory(ends_on=d(8))
    assert reminders.send_reminders() == {"ends_in_7": 2, "ends_today": 0, "waiting_5": 0, "expired": 0}
    main = grant.organization.main_account
    assert kinds_to(grant.creator.user) == ["grant_ends_in_7_days"]
    assert kinds_to(main) == ["grant_ends_in_7_days"]
    assert kinds_to(other.creator.user) == []
    message = Message.objects.for_recipient(main).get()
    assert message.params == {
        "creator": grant.creator.name, "organization": grant.organization.name, "ends_on": "2026-12-05",
        "side": "organization",
    }  # fmt: skip
    assert "7 天后（2026-12-05）到期" in message.text
    assert Message.objects.for_recipient(grant.creator.user).get().params["side"] == "creator"
    # Run again, and again later that day: nothing new.
    assert sum(reminders.send_reminders().values()) == 0
    frozen_today.move_to(at_shanghai(TODAY, 23, 59, 59))
    call_command("send_reminders", stdout=StringIO())
    assert Message.objects.count() == 2
    assert Reminder.objects.count() == 2


def test_sub_accounts_get_no_grant_reminder(frozen_today):
    grant = GrantFactory(ends_on=d(0))
    sub = SubAccountFactory(organization=grant.organization)
    reminders.send_reminders()
    assert kinds_to(sub) == []
    assert kinds_to(grant.organization.main_account) == ["grant_ends_today"]


def test_a_delegate_is_reminded_once_and_led_to_its_personal_center(frozen_today):
    """SPEC §10 × §12: the sub-account holding an open delegation of the grant is reminded too (a
    delegation ended, or a sub-account moved to another organization, is not)."""
    grant = GrantFactory(ends_on=d(7))
    main = grant.organization.main_account
    staff, former, ended = (SubAccountFactory(organization=grant.organization) for _ in range(3))
    for sub in (staff, former, ended):
        services.delegate(grant=grant, sub_account=sub, ends_on=d(7), actor=main)
    services.end_delegation(delegation=grant.delegations.get(sub_account=ended), actor=main)
    former.membership.organization = ShopFactory()
    former.membership.save(update_fields=["organization"])
    Message.objects.all().delete()  # the delegations' own messages
    reminders.send_reminders()
    assert kinds_to(staff) == ["grant_ends_in_7_days"]
    assert kinds_to(former) == []
    assert kinds_to(ended) == []
    message = Message.objects.for_recipient(staff).get()
    assert message.params["side"] == "delegate"
    assert message.link == "/org/"
    reminders.send_reminders()
    assert Message.objects.for_recipient(staff).count() == 1


def test_ends_today_starts_at_midnight_in_shanghai():
    with time_machine.travel(at_shanghai(TODAY, 23, 59, 59, 999999), tick=False) as traveller:
        grant = GrantFactory(starts_on=d(-3), ends_on=d(1))
        reminders.send_reminders()
        assert Message.objects.count() == 0  # still the day before its last day (8 days left)
        traveller.move_to(datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.UTC))  # 00:00 on the 29th
        reminders.send_reminders()
        assert kinds_to(grant.creator.user) == ["grant_ends_today"]
        assert "今天到期" in Message.objects.for_recipient(grant.creator.user).get().text
        traveller.move_to(at_shanghai(d(2), 0, 0, 0))  # the day after: expired, nothing more
        reminders.send_reminders()
        assert Message.objects.count() == 2


def test_ends_in_7_days_boundary_at_midnight():
    with time_machine.travel(at_shanghai(TODAY, 23, 59, 59), tick=False) as traveller:
        grant = GrantFactory(ends_on=d(8))
        reminders.send_reminders()
        assert Message.objects.count() == 0
        traveller.move_to(at_shanghai(d(1), 0, 0, 0))
        reminders.send_reminders()
        assert kinds_to(grant.creator.user) == ["grant_ends_in_7_days"]


def test_after_days_without_a_run_only_what_is_true_today(frozen_today):
    """The job was down from 9 days before the end until 2 days before: no "7 days" for a grant
    with 2 days left; its "today" comes on its last day."""
    grant = GrantFactory(starts_on=d(-30), ends_on=d(2))
    assert sum(reminders.send_reminders().values()) == 0
    frozen_today.move_to(at_shanghai(d(2), 9))
    reminders.send_reminders()
    assert kinds_to(grant.creator.user) == ["grant_ends_today"]


def test_a_grant_renewed_after_its_7_day_reminder_is_reminded_of_its_new_end(frozen_today):
    grant = GrantFactory(ends_on=d(7))
    reminders.send_reminders()
    services.renew_early(grant=grant, ends_on=d(20), actor=grant.creator.user)
    Message.objects.filter(kind="grant_changed").delete()
    reminders.send_reminders()
    assert Message.objects.count() == 2  # nothing new today
    frozen_today.move_to(at_shanghai(d(13), 8))
    reminders.send_reminders()
    assert Counter(Message.objects.values_list("kind", flat=True)) == {"grant_ends_in_7_days": 4}
    assert set(Reminder.objects.values_list("ends_on", flat=True)) == {d(7), d(20)}


def test_revoked_and_expired_grants_get_nothing(frozen_today):
    GrantFactory(ends_on=d(7), revoked=True)
    GrantFactory(ends_on=d(0), revoked=True)
    GrantFactory(expired=True)
    live = GrantFactory(ends_on=d(7))
    services.revoke(grant=live, actor=live.creator.user)
    Message.objects.all().delete()
    assert sum(reminders.send_reminders().values()) == 0


def test_a_scheduled_grant_ending_in_7_days_is_reminded(frozen_today):
    grant = GrantFactory(starts_on=d(3), ends_on=d(7))
    reminders.send_reminders()
    assert kinds_to(grant.creator.user) == ["grant_ends_in_7_days"]


def test_a_crash_halfway_is_completed_by_the_next_run_without_duplicates(frozen_today):
    grants = [GrantFactory(ends_on=d(7)) for _ in range(3)]
    real, calls = inbox.notify_each, []

    def crash_on_second_batch(notes):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(notes)

    with mock.patch("grants.reminders.inbox.notify_each", crash_on_second_batch), pytest.raises(RuntimeError):
        reminders.send_reminders(batch_size=1)
    # The first batch is complete (its reminders and messages), the second left nothing behind.
    assert set(Reminder.objects.values_list("grant_id", flat=True)) == {grants[0].pk}
    assert Message.objects.count() == 2
    reminders.send_reminders(batch_size=1)
    reminders.send_reminders(batch_size=2)
    counts = sent()
    assert len(counts) == 6
    assert set(counts.values()) == {1}
    assert Reminder.objects.count() == 6


def test_a_request_waiting_5_days_nudges_its_creator_once():
    with time_machine.travel(at_shanghai(TODAY, 10), tick=False) as traveller:
        grant_request = GrantRequestFactory()
        livestream = LivestreamFactory(minutes=0)
        shop = ShopFactory()
        access_request = LivestreamAccessRequestFactory(livestream=livestream, organization=shop)
        traveller.move_to(at_shanghai(d(5), 9, 59, 59))  # 4 days 23:59:59
        reminders.send_reminders()
        assert Message.objects.count() == 0
        traveller.move_to(at_shanghai(d(5), 10))  # exactly 5 days
        assert reminders.send_reminders()["waiting_5"] == 2
        assert kinds_to(grant_request.creator.user) == ["grant_request_waiting"]
        assert kinds_to(livestream.creator.user) == ["livestream_request_waiting"]
        assert kinds_to(shop.main_account) == []
        traveller.move_to(at_shanghai(d(6), 10))
        reminders.send_reminders()
        assert Message.objects.count() == 2
        assert access_request.pk in Reminder.objects.values_list("livestream_request_id", flat=True)


def test_a_decided_request_is_not_nudged():
    with time_machine.travel(at_shanghai(TODAY, 10), tick=False) as traveller:
        livestream = LivestreamFactory(minutes=0)
        shop = ShopFactory()
        access_request = LivestreamAccessRequestFactory(livestream=livestream, organization=shop)
        services.decline_livestream_request(request=access_request, actor=livestream.creator.user)
        Message.objects.all().delete()
        traveller.move_to(at_shanghai(d(5), 11))
        assert sum(reminders.send_reminders().values()) == 0


def test_an_expired_request_is_told_to_the_requesters_once():
    with time_machine.travel(at_shanghai(TODAY, 10), tick=False) as traveller:
        grant_request = GrantRequestFactory()
        livestream = LivestreamFactory(minutes=0)
        shop = ShopFactory()
        sub = SubAccountFactory(organization=shop)
        LivestreamAccessRequestFactory(livestream=livestream, organization=shop, requested_by=sub)
        traveller.move_to(at_shanghai(d(7), 9, 59, 59))  # still pending (and nudged at 5 days)
        assert reminders.send_reminders() == {"ends_in_7": 0, "ends_today": 0, "waiting_5": 2, "expired": 0}
        traveller.move_to(at_shanghai(d(7), 10, 0, 1))
        assert reminders.send_reminders()["expired"] == 3
        assert kinds_to(grant_request.organization.main_account) == ["grant_request_expired"]
        assert kinds_to(sub) == ["livestream_request_expired"]
        assert kinds_to(shop.main_account) == ["livestream_request_expired"]
        text = Message.objects.for_recipient(sub).get().text
        assert livestream.title in text
        assert "已过期" in text
        traveller.move_to(at_shanghai(d(9), 10))
        assert sum(reminders.send_reminders().values()) == 0


def test_a_request_that_expired_while_the_job_was_down_gets_no_nudge():
    with time_machine.travel(at_shanghai(TODAY, 10), tick=False) as traveller:
        grant_request = GrantRequestFactory()
        traveller.move_to(at_shanghai(d(10), 10))
        assert reminders.send_reminders() == {"ends_in_7": 0, "ends_today": 0, "waiting_5": 0, "expired": 1}
        assert kinds_to(grant_request.creator.user) == []
        traveller.move_to(at_shanghai(d(30), 10))  # long past: history, not news
        GrantRequestFactory(created_at=at_shanghai(d(10), 9))
        assert reminders.send_reminders()["expired"] == 0


def test_reminders_are_emailed_when_wanted_in_one_task_per_batch(frozen_today, django_capture_on_commit_callbacks):
    grant = GrantFactory(ends_on=d(7))
    creator_user, main = grant.creator.user, grant.organization.main_account
    creator_user.email, main.email = "creator@example.com", "boss@example.com"
    creator_user.save(update_fields=["email"])
    main.save(update_fields=["email"])
    NotificationSettings.objects.create(user=main, email_reminders=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reminders.send_reminders()
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["creator@example.com"]]
    assert "授权将于 7 天后到期" in mail.outbox[0].subject


# Inside a test's transaction each batch's transaction is a savepoint: SAVEPOINT and RELEASE count.
EMPTY_READ = 3  # a read that finds nothing due
BATCH = 9  # read and lock the batch; main accounts, delegates; those sent; insert, read back the claims; messages
SENT_BATCH = 6  # a batch whose reminders were all sent before: read and lock, main accounts, delegates, those sent
NOTHING_DUE = 6 * EMPTY_READ  # grants ending in 7 days, today; two kinds of request, waiting and expired


def test_each_batch_costs_the_same_queries_whatever_its_size(frozen_today, django_assert_num_queries):
    with django_assert_num_queries(NOTHING_DUE):
        reminders.send_reminders(batch_size=500)
    GrantFactory(ends_on=d(7))
    with django_assert_num_queries(NOTHING_DUE + BATCH):  # one grant, two reminders; then the empty read
        reminders.send_reminders(batch_size=500)
    frozen_today.move_to(at_shanghai(d(1), 12))
    for _ in range(20):
        GrantFactory(ends_on=d(8))
    with django_assert_num_queries(NOTHING_DUE + BATCH):  # 20 grants, 40 reminders, one batch
        reminders.send_reminders(batch_size=500)
    # The next day, three grants ending a week later, in batches of one: three batches, and the
    # read that finds no fourth (every loop ends with a read that finds nothing).
    frozen_today.move_to(at_shanghai(d(2), 12))
    for _ in range(3):
        GrantFactory(ends_on=d(9))
    with django_assert_num_queries(NOTHING_DUE + 3 * BATCH):
        reminders.send_reminders(batch_size=1)
    assert Message.objects.count() == 2 * 24
    # The hourly rerun: everything sent, nothing written.
    with django_assert_num_queries(NOTHING_DUE + 3 * SENT_BATCH):
        reminders.send_reminders(batch_size=1)
    with django_assert_num_queries(NOTHING_DUE + SENT_BATCH):
        reminders.send_reminders(batch_size=500)


def test_the_due_grants_are_read_through_the_index():
    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    from grants.models import Grant

    queryset = Grant.objects.filter(revoked_at__isnull=True, ends_on=TODAY).filter(pk__gt=0).order_by("pk")[:500]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = queryset.explain()
        cursor.execute("RESET enable_seqscan")
    assert "grant_ending_on" in plan


def test_the_command_prints_what_it_sent(frozen_today, capsys):
    GrantFactory(ends_on=d(0))
    call_command("send_reminders")
    assert "ends_today=2" in capsys.readouterr().out


def test_the_reminder_kinds_read_in_english(frozen_today):
    from django.utils import translation

    GrantFactory(ends_on=d(0))
    reminders.send_reminders()
    with translation.override("en"):
        texts = [m.text for m in Message.objects.all()]
    assert all("today" in text.lower() for text in texts), texts


def test_creator_reminder_links_to_the_grant(frozen_today, client):
    grant = GrantFactory(ends_on=d(7))
    reminders.send_reminders()
    for user in (grant.creator.user, grant.organization.main_account):
        message = Message.objects.for_recipient(user).get()
        client.force_login(user)
        assert client.get(message.link).status_code == 200


def test_the_admin_lists_reminders_jobs_and_feeds_without_tokens(client, frozen_today):
    from django.urls import reverse

    from notifications.schedule import tick
    from portal.factories import UserFactory

    grant = GrantFactory(ends_on=d(7))
    reminders.send_reminders()
    tick()
    feed = inbox.regenerate_calendar_feed(actor=grant.creator.user)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for name in ("grants_reminder", "notifications_periodicjob", "notifications_calendarfeed"):
        page = client.get(reverse(f"admin:{name}_changelist"))
        assert page.status_code == 200, name
        assert feed.secret not in page.content.decode()
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403
    detail = client.get(reverse("admin:notifications_calendarfeed_change", args=[feed.pk])).content.decode()
    assert feed.secret not in detail
    assert feed.selector not in detail


def test_the_unique_index_not_the_look_up_makes_a_reminder_once(frozen_today):
    """A run that missed the look-up (another run inserted meanwhile) inserts nothing and claims
    nothing: ON CONFLICT DO NOTHING, then only the rows carrying its own claim."""
    grant = GrantFactory(ends_on=d(7))
    reminders.send_reminders()
    user = grant.creator.user
    late = Reminder(grant=grant, threshold="ends_in_7", recipient=user, ends_on=d(7), run="late-run")
    # A look-up that finds nothing (it asks about another end), as a run racing the first would.
    claimed = reminders._claim([late], "grant_id", [grant.pk], ends_on=d(8))
    assert claimed == set()
    assert Reminder.objects.filter(grant=grant, recipient=user).count() == 1
    assert Reminder.objects.get(grant=grant, recipient=user).run != "late-run"
