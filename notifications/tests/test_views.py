"""消息中心, opening a message, 全部已读, 通知设置, and the bell on every page (one query at most)."""

import re

import pytest
from django.urls import reverse

from grants.factories import GrantFactory
from livestreams.factories import LivestreamFactory
from notifications import services
from notifications.models import Message, NotificationSettings
from portal.backends import PortalBackend
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def tell(user, count=1, creator="小雅美妆", link="/org/"):
    for n in range(count):
        services.notify(
            recipients=[user], kind="grant_changed", link=link,
            params={
                "creator": f"{creator}{n}", "operation": "renew", "starts_on": "2026-12-01", "ends_on": "2027-01-01",
            },
        )  # fmt: skip


def bell_count(html: str) -> str | None:
    found = re.search(r'<span class="bell-count"( hidden)?>([^<]*)</span>', html)
    return None if found is None or found.group(1) else found.group(2)


def test_inbox_lists_unread_newest_first_and_all(client):
    main = ShopFactory().main_account
    tell(main, 3)
    services.mark_read(message=Message.objects.order_by("pk").first(), actor=main)
    client.force_login(main)
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert html.index("小雅美妆2") < html.index("小雅美妆1")
    assert "小雅美妆0" not in html  # read: only under 全部
    all_html = client.get(reverse("notifications:inbox"), {"show": "all"}).content.decode()
    assert "小雅美妆0" in all_html
    assert bell_count(html) == "2"
    fragment = client.get(reverse("notifications:inbox"), {"show": "all"}, **HTMX).content.decode()
    assert "<html" not in fragment
    assert 'id="inbox-list"' in fragment


@pytest.mark.parametrize("messages", [1, 45])
def test_inbox_query_count_is_fixed(client, django_assert_num_queries, messages):
    main = ShopFactory().main_account
    tell(main, messages)
    client.force_login(main)
    # session, user (with the bell, also the unread tab's count), the page of messages
    with django_assert_num_queries(3):
        response = client.get(reverse("notifications:inbox"), {"page": 2 if messages > 20 else 1})
    assert response.status_code == 200
    with django_assert_num_queries(3):
        client.get(reverse("notifications:inbox"), {"show": "all"})


def test_opening_a_message_marks_it_read_and_goes_to_what_it_is_about(client):
    main = ShopFactory().main_account
    tell(main, link="/org/?status=active")
    message = Message.objects.get()
    client.force_login(main)
    response = client.get(reverse("notifications:open", args=[message.pk]))
    assert (response.status_code, response.url) == (302, "/org/?status=active")
    assert Message.objects.get().read_at is not None
    assert bell_count(client.get(reverse("notifications:inbox")).content.decode()) is None


def test_a_link_to_another_site_is_never_followed(client):
    main = ShopFactory().main_account
    tell(main, link="//evil.example/")
    client.force_login(main)
    response = client.get(reverse("notifications:open", args=[Message.objects.get().pk]))
    assert response.url == reverse("notifications:inbox")


def test_another_users_message_is_404_and_stays_unread(client):
    main = ShopFactory().main_account
    tell(main)
    client.force_login(SubAccountFactory(organization=main.membership.organization))
    assert client.get(reverse("notifications:open", args=[Message.objects.get().pk])).status_code == 404
    assert Message.objects.get().read_at is None


def test_mark_all_read_plain_and_htmx(client):
    main = ShopFactory().main_account
    tell(main, 2)
    client.force_login(main)
    response = client.post(reverse("notifications:mark_all_read"))
    assert (response.status_code, response.url) == (302, reverse("notifications:inbox"))
    assert Message.objects.unread_count(main) == 0
    tell(main, 1)
    response = client.post(reverse("notifications:mark_all_read"), {"show": "all"}, **HTMX)
    html = response.content.decode()
    assert 'id="inbox-list" hx-swap-oob="true"' in html
    assert 'id="bell"' in html
    assert 'hx-swap-oob="true"' in html
    assert "已将 1 条消息标为已读" in html
    assert Message.objects.unread_count(main) == 0


def test_settings_page_saves_email_and_categories(client):
    user = CreatorFactory().user
    client.force_login(user)
    page = client.get(reverse("notifications:settings")).content.decode()
    assert 'name="email_decisions"' in page
    assert "checked" in page
    response = client.post(
        reverse("notifications:settings"),
        {"email": "me@example.com", "email_requests": "on", "email_reminders": "on", "language": "en"},
    )
    assert response.status_code == 302
    choices = NotificationSettings.objects.get(user=user)
    assert (choices.email_requests, choices.email_decisions, choices.email_reminders, choices.language) == (
        True,
        False,
        True,
        "en",
    )
    user.refresh_from_db()
    assert user.email == "me@example.com"


def test_settings_page_refuses_a_bad_address_inline(client):
    user = CreatorFactory().user
    client.force_login(user)
    response = client.post(reverse("notifications:settings"), {"email": "nope", "language": "zh-hans"})
    assert response.status_code == 422
    assert "请输入有效的邮箱地址" in response.content.decode()
    assert not NotificationSettings.objects.exists()


# --- the bell ---------------------------------------------------------------------------------


def test_the_bell_costs_a_members_page_no_query_of_its_own(client, django_assert_num_queries):
    """The organization's livestream list: its own queries; the bell is counted in the query that
    loads the user (``unread_annotation``)."""
    shop = ShopFactory()
    staff = SubAccountFactory(organization=shop)
    LivestreamFactory(cooperating=[shop], minutes=0)
    tell(staff, 3)
    client.force_login(staff)
    # session, user (with the bell), cooperations, open requests, delegated creators (SPEC §12)
    with django_assert_num_queries(5) as captured:
        html = client.get(reverse("livestreams:org_livestreams")).content.decode()
    assert bell_count(html) == "3"
    bell_queries = [q["sql"] for q in captured.captured_queries if "notifications_message" in q["sql"]]
    assert len(bell_queries) == 1
    assert '"portal_user"."username"' in bell_queries[0]  # the user's own query


def test_the_bell_costs_a_creator_no_query_of_its_own(client, django_assert_num_queries):
    """A creator's pages count the bell in the query that loads the user, the navigation's pending
    badges in one more."""
    creator = CreatorFactory()
    tell(creator.user, 2)
    client.force_login(creator.user)
    # session, user (with the bell), a page of grants, the counts (tabs and badges)
    with django_assert_num_queries(4) as captured:
        html = client.get(reverse("grants:creator_grants"), {"status": "active"}).content.decode()
    assert bell_count(html) == "2"
    counting = [q["sql"] for q in captured.captured_queries if "notifications_message" in q["sql"]]
    assert len(counting) == 1
    assert '"portal_user"."username"' in counting[0]
    assert any("grants_livestreamaccessrequest" in q["sql"] for q in captured.captured_queries)


def test_the_bell_is_capped(client, monkeypatch):
    import notifications.models

    monkeypatch.setattr(notifications.models, "UNREAD_CAP", 3)
    monkeypatch.setattr(PortalBackend, "_query", None)  # the user's query, compiled again with this cap
    main = ShopFactory().main_account
    tell(main, 3)
    client.force_login(main)
    assert bell_count(client.get(reverse("livestreams:org_livestreams")).content.decode()) == "2+"
    services.mark_read(message=Message.objects.first(), actor=main)
    assert bell_count(client.get(reverse("livestreams:org_livestreams")).content.decode()) == "2"


def test_the_bell_is_not_counted_for_a_fragment(client, django_assert_num_queries):
    grant = GrantFactory()
    main = grant.organization.main_account
    client.force_login(main)
    response = client.get(reverse("grants:perspective_menu"))
    assert 'id="bell"' not in response.content.decode()
