"""The inbox's writes: messages written in the caller's transaction, read in the reader's language."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import translation

from notifications import kinds, services
from notifications.models import Message, NotificationSettings
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

PARAMS = {"creator": "小雅美妆", "operation": "authorize", "starts_on": "2026-12-01", "ends_on": "2026-12-31"}


def test_notify_writes_one_message_per_recipient_in_one_query(django_assert_num_queries):
    shop = ShopFactory()
    main, staff = shop.main_account, SubAccountFactory(organization=shop)
    with django_assert_num_queries(1):
        messages = services.notify(
            recipients=[main, staff, main, None], kind="grant_changed", params=PARAMS, link="/x/"
        )
    assert sorted(m.recipient_id for m in messages) == sorted([main.pk, staff.pk])
    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("kind", "link", "read_at")) == {("grant_changed", "/x/", None)}


def test_notify_refuses_an_unregistered_kind():
    with pytest.raises(KeyError):
        services.notify(recipients=[CreatorFactory().user], kind="no_such_kind", params={})
    assert Message.objects.count() == 0


def test_a_message_rolled_back_with_its_change_never_existed():
    user = CreatorFactory().user
    with transaction.atomic():
        services.notify(recipients=[user], kind="grant_changed", params=PARAMS)
        transaction.set_rollback(True)
    assert Message.objects.count() == 0


def test_a_message_is_rendered_in_the_readers_language_when_read():
    user = ShopFactory().main_account
    with translation.override("zh-hans"):
        (message,) = services.notify(recipients=[user], kind="grant_changed", params=PARAMS)
    stored = Message.objects.get()
    assert stored.params == PARAMS  # the parameters, not a sentence
    with translation.override("zh-hans"):
        assert stored.title == "新的全部数据授权"
        assert stored.text == "「小雅美妆」已授权本机构查看其全部带货数据：2026-12-01 至 2026-12-31。"
    with translation.override("en"):
        assert stored.title == "New full-data authorization"
        assert "小雅美妆" in stored.text
        assert "authorized" in stored.text
        assert "2026-12-31" in stored.text
    assert message.get_category_display()


def test_every_registered_kind_renders_in_both_languages_with_missing_parameters():
    """Old messages stay readable whatever parameters they lack."""
    assert len(kinds.registered()) >= 10
    for name in kinds.registered():
        message = Message(kind=name, params={})
        for language in ("zh-hans", "en"):
            with translation.override(language):
                assert message.title
                assert message.text
    assert Message(kind="gone_kind", params={}).text


def test_mark_read_once_and_only_by_the_recipient():
    user, other = CreatorFactory().user, CreatorFactory().user
    (message,) = services.notify(recipients=[user], kind="grant_changed", params=PARAMS)
    with pytest.raises(PermissionDenied):
        services.mark_read(message=message, actor=other)
    first = services.mark_read(message=message, actor=user).read_at
    assert first is not None
    again = services.mark_read(message=Message.objects.get(), actor=user)
    assert again.read_at == first == Message.objects.get().read_at


def test_mark_all_read_touches_only_the_actors_unread_messages():
    user, other = CreatorFactory().user, CreatorFactory().user
    for recipient in (user, user, other):
        services.notify(recipients=[recipient], kind="grant_changed", params=PARAMS)
    assert services.mark_all_read(actor=user) == 2
    assert services.mark_all_read(actor=user) == 0
    assert Message.objects.unread_count(user) == 0
    assert Message.objects.unread_count(other) == 1


def test_unread_count_is_capped():
    user = CreatorFactory().user
    for _ in range(5):
        services.notify(recipients=[user], kind="grant_changed", params=PARAMS)
    assert Message.objects.unread_count(user, cap=3) == 3
    assert Message.objects.unread_count(user) == 5


def test_update_settings_saves_the_email_and_the_choices():
    user = CreatorFactory().user
    assert NotificationSettings.of(user).wants_email("decisions")  # on until changed
    choices = services.update_settings(
        actor=user, email=" me@example.com ", email_requests=True, email_decisions=False, email_reminders=True,
        language="en",
    )  # fmt: skip
    user.refresh_from_db()
    assert user.email == "me@example.com"
    assert (choices.wants_email("requests"), choices.wants_email("decisions"), choices.language) == (True, False, "en")
    with pytest.raises(ValidationError):
        services.update_settings(
            actor=user, email="not-an-email", email_requests=True, email_decisions=True, email_reminders=True,
            language="en",
        )  # fmt: skip
    user.refresh_from_db()
    assert user.email == "me@example.com"
