"""The request pages (SPEC §9): the organization asks (申请全部带货数据, 申请续约), the creator decides
in 数据授权管理's 待处理 tab (one at a time or in bulk), both see the history; fixed query counts."""

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory
from grants.models import Grant, GrantEvent, GrantRequest, GrantRequestEvent, LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from notifications.models import Message
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import d

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
FROM_PENDING_TAB = {**HTMX, "HTTP_HX_CURRENT_URL": "http://testserver/grants/?status=pending"}


def ask(creator, shop=None, start=0, end=30, **kwargs):
    shop = shop or ShopFactory()
    return services.request_grant(
        creator=creator, starts_on=d(start), ends_on=d(end), actor=shop.main_account, **kwargs
    )


def shown(response) -> str:
    """The messages the response leaves for the next page (and consumes them)."""
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


# --- the creator: 待处理 and 申请记录 --------------------------------------------------------------


def test_pending_tab_lists_the_requests_with_their_count_and_badge(client, frozen_today):
    creator = CreatorFactory()
    full = ask(creator, ShopFactory(name="甲乙旗舰店"), message="想看数据")
    extension = services.request_extension(
        grant=GrantFactory(creator=creator, organization=ShopFactory(name="丙丁专营店")), ends_on=d(90),
        actor=Grant.objects.get(organization__name="丙丁专营店").organization.main_account,
    )  # fmt: skip
    client.force_login(creator.user)
    html = client.get(reverse("grants:creator_grants"), {"status": "pending"}).content.decode()
    assert "甲乙旗舰店" in html
    assert "丙丁专营店" in html
    assert "想看数据" in html
    assert re.search(r'aria-current="page">待处理 <span class="tab-count">2</span>', html)
    assert re.search(r'id="pending-grant-badge" class="nav-badge"\s+title="[^"]*"\s*>2</span>', html)
    assert ">2</span>" in html
    for grant_request in (full, extension):
        assert reverse("grants:approve_grant_request", args=[grant_request.pk]) in html
    assert "截止日期延长至 2026-02-26" not in html  # an extension of an active grant shows its new end
    assert "截止日期延长至 2027-02-26" in html


@pytest.mark.parametrize("rows", [1, 30])
def test_pending_and_record_tabs_have_a_fixed_query_count(client, frozen_today, django_assert_num_queries, rows):
    creator = CreatorFactory()
    for _ in range(rows):
        ask(creator)
    client.force_login(creator.user)
    # session, user, counts (tabs, badges, bell), a page of requests, their history
    for tab in ("pending", "requests"):
        with django_assert_num_queries(5):
            assert client.get(reverse("grants:creator_grants"), {"status": tab}).status_code == 200


def test_an_expired_request_shows_as_such_and_offers_no_decision(client, frozen_today):
    creator = CreatorFactory()
    expired = GrantRequestFactory(creator=creator, expired=True)
    client.force_login(creator.user)
    assert (
        reverse("grants:approve_grant_request", args=[expired.pk])
        not in client.get(reverse("grants:creator_grants"), {"status": "pending"}).content.decode()
    )
    html = client.get(reverse("grants:creator_grants"), {"status": "requests"}).content.decode()
    assert "过期未处理" in html
    response = client.post(
        reverse("grants:approve_grant_request", args=[expired.pk]), {"starts_on": d(0), "ends_on": d(9)}
    )
    assert response.status_code == 422
    assert "已过期" in response.content.decode()
    assert Grant.objects.count() == 0


def test_approve_dialog_with_an_edited_period_refreshes_the_list(client, frozen_today):
    creator = CreatorFactory()
    grant_request = ask(creator, end=30)
    client.force_login(creator.user)
    url = reverse("grants:approve_grant_request", args=[grant_request.pk])
    dialog = client.get(url, **HTMX).content.decode()
    assert "<html" not in dialog
    assert 'value="2026-12-28"' in dialog
    response = client.post(url, {"starts_on": d(1).isoformat(), "ends_on": d(10).isoformat()}, **FROM_PENDING_TAB)
    assert response.status_code == 200
    assert "close-dialog" in response.headers["HX-Trigger"]
    html = response.content.decode()
    assert 'id="grant-list" hx-swap-oob="true"' in html
    assert 'id="pending-grant-badge"' in html
    grant = Grant.objects.get()
    assert (grant.starts_on, grant.ends_on) == (d(1), d(10))


def test_approve_plain_post_redirects_and_refusals_stay_inline(client, frozen_today):
    creator = CreatorFactory()
    grant_request = ask(creator)
    client.force_login(creator.user)
    url = reverse("grants:approve_grant_request", args=[grant_request.pk])
    refused = client.post(url, {"starts_on": d(-1).isoformat(), "ends_on": d(10).isoformat()})
    assert refused.status_code == 422
    assert 'id="id_starts_on_error"' in refused.content.decode()
    done = client.post(url, {"starts_on": d(0).isoformat(), "ends_on": d(10).isoformat()})
    assert (done.status_code, done.url) == (302, reverse("grants:creator_grants"))
    assert "已同意" in shown(done)


def test_an_extension_of_an_active_grant_is_approved_with_its_new_end_only(client, frozen_today):
    grant = GrantFactory()
    grant_request = services.request_extension(grant=grant, ends_on=d(60), actor=grant.organization.main_account)
    client.force_login(grant.creator.user)
    url = reverse("grants:approve_grant_request", args=[grant_request.pk])
    page = client.get(url).content.decode()
    assert 'name="starts_on"' not in page
    assert "固定为操作次日" in page
    client.post(url, {"ends_on": d(70).isoformat(), "starts_on": d(5).isoformat()})
    grant.refresh_from_db()
    assert (grant.starts_on, grant.ends_on) == (d(-10), d(70))


def test_decline_with_a_reason_the_requester_sees(client, frozen_today):
    creator = CreatorFactory()
    shop = ShopFactory()
    grant_request = ask(creator, shop)
    client.force_login(creator.user)
    response = client.post(
        reverse("grants:decline_grant_request", args=[grant_request.pk]), {"reason": "暂不合作"}, **FROM_PENDING_TAB
    )
    assert response.status_code == 200
    assert "close-dialog" in response.headers["HX-Trigger"]
    client.force_login(shop.main_account)
    home = client.get(reverse("grants:org_home")).content.decode()
    assert "已拒绝" in home
    assert "理由：暂不合作" in home
    detail = client.get(reverse("grants:grant_request_detail", args=[grant_request.pk])).content.decode()
    assert "暂不合作" in detail
    assert creator.name in detail
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert "暂不合作" in inbox


def test_a_reason_over_200_characters_is_refused_inline(client, frozen_today):
    creator = CreatorFactory()
    grant_request = ask(creator)
    client.force_login(creator.user)
    response = client.post(reverse("grants:decline_grant_request", args=[grant_request.pk]), {"reason": "长" * 201})
    assert response.status_code == 422
    assert 'id="id_reason_error"' in response.content.decode()
    assert GrantRequest.objects.get().status == "pending"


def test_request_detail_for_the_two_parties_only(client, frozen_today):
    creator = CreatorFactory()
    shop = ShopFactory()
    url = reverse("grants:grant_request_detail", args=[ask(creator, shop).pk])
    for user, status in (
        (creator.user, 200),
        (shop.main_account, 200),
        (SubAccountFactory(organization=shop), 404),
        (CreatorFactory().user, 404),
        (ShopFactory().main_account, 404),
    ):
        client.force_login(user)
        assert client.get(url).status_code == status


# --- bulk decisions ------------------------------------------------------------------------------


def bulk(client, name, ids, **data):
    return client.post(reverse(name), {"ids": [str(pk) for pk in ids], **data})


def test_bulk_approve_applies_each_and_twice_applies_nothing_twice(client, frozen_today):
    creator = CreatorFactory()
    requests = [ask(creator) for _ in range(3)]
    expired = GrantRequestFactory(creator=creator, expired=True)
    client.force_login(creator.user)
    ids = [r.pk for r in requests] + [expired.pk, 10**9]
    first = bulk(client, "grants:bulk_grant_requests", ids, action="approve", next="/grants/?status=pending")
    assert (first.status_code, first.url) == (302, "/grants/?status=pending")
    assert shown(first) == "已处理 3 项，跳过 2 项（1 项不存在或不可操作、1 项已过期）。"
    assert Grant.objects.count() == 3
    assert GrantEvent.objects.count() == 3
    client.get(first.url)  # the message is shown (and gone)
    again = bulk(client, "grants:bulk_grant_requests", ids, action="approve")
    assert shown(again) == "已处理 0 项，跳过 5 项（3 项已处理过、1 项不存在或不可操作、1 项已过期）。"
    assert (Grant.objects.count(), GrantEvent.objects.count()) == (3, 3)


def test_bulk_decline_uses_one_reason_for_all(client, frozen_today):
    creator = CreatorFactory()
    requests = [ask(creator) for _ in range(2)]
    client.force_login(creator.user)
    bulk(client, "grants:bulk_grant_requests", [r.pk for r in requests], action="decline", reason="档期已满")
    assert set(GrantRequest.objects.values_list("status", "reason")) == {("declined", "档期已满")}
    assert Message.objects.filter(kind="grant_request_declined").count() == 2


def test_bulk_with_htmx_refreshes_the_list_in_place(client, frozen_today):
    creator = CreatorFactory()
    grant_request = ask(creator)
    client.force_login(creator.user)
    response = client.post(
        reverse("grants:bulk_grant_requests"), {"ids": [grant_request.pk], "action": "decline"}, **FROM_PENDING_TAB
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="grant-list" hx-swap-oob="true"' in html
    assert "已处理 1 项" in html
    assert "close-dialog" not in response.headers.get("HX-Trigger", "")


def test_bulk_without_a_choice_or_ids_changes_nothing(client, frozen_today):
    creator = CreatorFactory()
    grant_request = ask(creator)
    client.force_login(creator.user)
    assert "请先勾选" in shown(bulk(client, "grants:bulk_grant_requests", [], action="approve"))
    assert "请选择批量操作" in shown(bulk(client, "grants:bulk_grant_requests", [grant_request.pk], action="x"))
    assert GrantRequest.objects.get().status == "pending"


def test_bulk_cannot_reach_another_creators_requests(client, frozen_today):
    theirs = ask(CreatorFactory())
    client.force_login(CreatorFactory().user)
    response = bulk(client, "grants:bulk_grant_requests", [theirs.pk], action="approve")
    assert shown(response) == "已处理 0 项，跳过 1 项（1 项不存在或不可操作）。"
    assert GrantRequest.objects.get().status == "pending"


def queries_of(django_assert_max_num_queries, call) -> int:
    with django_assert_max_num_queries(10_000) as captured:
        call()
    return len(captured.captured_queries)


def per_item(client, django_assert_max_num_queries, make, name, **data) -> tuple[int, int]:
    """The queries of a bulk post of 1 item and of 4 items: (fixed part, per item)."""
    one, four = make(1), make(4)
    small = queries_of(django_assert_max_num_queries, lambda: bulk(client, name, one, **data))
    large = queries_of(django_assert_max_num_queries, lambda: bulk(client, name, four, **data))
    step, remainder = divmod(large - small, 3)
    assert remainder == 0
    return small - step, step


def test_bulk_approve_costs_a_fixed_number_of_queries_per_item(client, frozen_today, django_assert_max_num_queries):
    creator = CreatorFactory()
    client.force_login(creator.user)
    fixed, step = per_item(
        client, django_assert_max_num_queries, lambda n: [ask(creator).pk for _ in range(n)],
        "grants:bulk_grant_requests", action="approve",
    )  # fmt: skip
    # Each approval: its savepoint (2), the creator locked, the request locked, the creator locked
    # again by authorize, the pair's live grant, the latest flag, the grant's foreign keys checked
    # (2), the grant in its own savepoint (3), its event, the request saved, its event, the main
    # account, the message.
    assert step == 17
    # Besides: session, user, the items (one query), the session saved with the result (3).
    assert fixed == 6


def test_bulk_decline_of_livestream_requests_costs_a_fixed_number_of_queries_per_item(
    client, frozen_today, django_assert_max_num_queries
):
    creator = CreatorFactory()
    client.force_login(creator.user)

    def make(n):
        shops = [ShopFactory() for _ in range(n)]
        stream = LivestreamFactory(creator=creator, cooperating=shops, minutes=0)
        return [services.request_livestream_access(livestream=stream, actor=shop.main_account).pk for shop in shops]

    _fixed, step = per_item(client, django_assert_max_num_queries, make, "grants:bulk_requests", action="decline")
    # savepoint (2), the request locked with its livestream, creator and requester, saved, its
    # event, the main account, the message
    assert step == 7
    assert LivestreamAccessRequest.objects.filter(status="declined").count() == 5


def test_bulk_revoke_costs_a_fixed_number_of_queries_per_item(client, frozen_today, django_assert_max_num_queries):
    creator = CreatorFactory()
    client.force_login(creator.user)
    make = lambda n: [GrantFactory(creator=creator).pk for _ in range(n)]  # noqa: E731
    _fixed, step = per_item(client, django_assert_max_num_queries, make, "grants:bulk_revoke")
    # savepoint (2), the grant locked, its delegates (SPEC §12), saved, its event, the main account,
    # the message
    assert step == 8
    assert Grant.objects.filter(revoked_at__isnull=False).count() == 5


def test_bulk_revoke_skips_what_is_not_revocable_and_twice_applies_nothing_twice(client, frozen_today):
    creator = CreatorFactory()
    live = [GrantFactory(creator=creator).pk, GrantFactory(creator=creator, scheduled=True).pk]
    expired = GrantFactory(creator=creator, expired=True).pk
    client.force_login(creator.user)
    first = bulk(client, "grants:bulk_revoke", [*live, expired])
    assert shown(first) == "已处理 2 项，跳过 1 项（1 项已不是待生效或生效中的授权）。"
    client.get(first.url)
    again = bulk(client, "grants:bulk_revoke", [*live, expired])
    assert shown(again) == "已处理 0 项，跳过 3 项（3 项已不是待生效或生效中的授权）。"
    assert GrantEvent.objects.filter(operation="revoke").count() == 2


# --- the organization: 申请全部带货数据, 申请续约 ---------------------------------------------------------


def test_request_page_finds_creators_by_name_or_douyin_id(client, frozen_today, django_assert_num_queries):
    shop = ShopFactory()
    wanted = CreatorFactory(name="小雅美妆", douyin_id="dy_xiaoya")
    granted = GrantFactory(organization=shop, creator=CreatorFactory(name="小雅穿搭", douyin_id="dy_other")).creator
    client.force_login(shop.main_account)
    # session, user (with the bell), the creators, the organization's grants from them, its pending
    # requests
    with django_assert_num_queries(5):
        html = client.get(reverse("grants:request_grant"), {"q": "小雅"}).content.decode()
    assert f'value="{wanted.pk}"' in html  # may be asked
    assert f'value="{granted.pk}"' not in html
    assert "去申请续约" in html
    by_id = client.get(reverse("grants:creator_search"), {"q": "xiaoya"}).content.decode()
    assert "小雅美妆" in by_id
    assert "<html" not in by_id


def test_request_post_creates_the_request_and_refusals_stay_inline(client, frozen_today):
    shop = ShopFactory()
    creator = CreatorFactory()
    client.force_login(shop.main_account)
    url = reverse("grants:request_grant")
    too_long = client.post(url, {"creator": creator.pk, "starts_on": d(0), "ends_on": d(366), "message": ""})
    assert too_long.status_code == 422
    assert "最长 366 天" in too_long.content.decode()
    done = client.post(url, {"creator": creator.pk, "starts_on": d(0), "ends_on": d(365), "message": "您好"})
    assert (done.status_code, done.url) == (302, reverse("grants:org_home"))
    assert GrantRequest.objects.get().message == "您好"
    again = client.post(url, {"creator": creator.pk, "starts_on": d(0), "ends_on": d(5)}, **HTMX)
    assert again.status_code == 200
    assert "已有待审批的申请" in again.content.decode()


def test_extension_page_asks_for_a_new_end_or_a_new_period(client, frozen_today):
    shop = ShopFactory()
    active = GrantFactory(organization=shop)
    expired = GrantFactory(organization=shop, expired=True)
    client.force_login(shop.main_account)
    live_page = client.get(reverse("grants:request_extension", args=[active.pk])).content.decode()
    assert 'name="starts_on"' not in live_page
    assert 'name="ends_on"' in live_page
    assert 'name="starts_on"' in client.get(reverse("grants:request_extension", args=[expired.pk])).content.decode()
    response = client.post(reverse("grants:request_extension", args=[active.pk]), {"ends_on": d(30)}, **HTMX)
    assert response.status_code == 200
    assert "新的截止日期必须晚于当前截止日期" in response.content.decode()
    response = client.post(reverse("grants:request_extension", args=[active.pk]), {"ends_on": d(31)}, **HTMX)
    assert response.headers.get("HX-Refresh") == "true"
    assert GrantRequest.objects.get().grant == active


def test_the_organization_sees_its_requests_and_their_history(client, frozen_today):
    shop = ShopFactory()
    creator = CreatorFactory(name="阿峰好物")
    services.decline_grant_request(request=ask(creator, shop), actor=creator.user, reason="下月再谈")
    client.force_login(shop.main_account)
    html = client.get(reverse("grants:org_home")).content.decode()
    section = html[html.index('id="org-grant-request-list"') :]
    assert "阿峰好物" in section
    assert "下月再谈" in section
    assert "拒绝" in section
    client.force_login(SubAccountFactory(organization=shop))
    assert "下月再谈" not in client.get(reverse("grants:org_home")).content.decode()


def test_livestream_request_history_and_reason_for_every_member(client, frozen_today):
    shop = ShopFactory()
    staff = SubAccountFactory(organization=shop)
    stream = LivestreamFactory(cooperating=[shop], minutes=0, title="年货节")
    request = services.request_livestream_access(livestream=stream, actor=staff)
    services.decline_livestream_request(request=request, actor=stream.creator.user, reason="仅限主账号合作方")
    for member in (staff, shop.main_account):
        client.force_login(member)
        html = client.get(reverse("grants:org_home")).content.decode()
        assert "仅限主账号合作方" in html
        assert "年货节" in html
    expired_stream = LivestreamFactory(cooperating=[shop], minutes=0)
    stale = services.request_livestream_access(livestream=expired_stream, actor=staff)
    LivestreamAccessRequest.objects.filter(pk=stale.pk).update(created_at=stale.created_at - datetime.timedelta(days=8))
    assert "过期未处理" in client.get(reverse("grants:org_home")).content.decode()


@pytest.mark.parametrize("events", [1, 3])
def test_request_pages_have_fixed_query_counts(client, frozen_today, django_assert_num_queries, events):
    grant = GrantFactory()
    main = grant.organization.main_account
    grant_request = services.request_extension(grant=grant, ends_on=d(60), actor=main)
    for _ in range(events - 1):  # a longer history costs no more queries
        GrantRequestEvent.objects.create(request=grant_request, operation="request", actor=main)
    detail = reverse("grants:grant_request_detail", args=[grant_request.pk])
    client.force_login(grant.creator.user)
    # session, user (with the bell), the request (with its parties and grant), its history, the badges
    with django_assert_num_queries(5):
        assert client.get(detail).status_code == 200
    # session, user (with the bell), the request, the badges
    for name in ("grants:approve_grant_request", "grants:decline_grant_request"):
        with django_assert_num_queries(4):
            assert client.get(reverse(name, args=[grant_request.pk])).status_code == 200
    client.force_login(main)
    with django_assert_num_queries(4):  # as above, without the badges
        assert client.get(detail).status_code == 200
    # session, user (with the bell), the grant (with its creator)
    with django_assert_num_queries(3):
        assert client.get(reverse("grants:request_extension", args=[grant.pk])).status_code == 200
    # session, user (with the bell; no search yet)
    with django_assert_num_queries(2):
        assert client.get(reverse("grants:request_grant")).status_code == 200
    # session, user (with the bell), the settings row, the calendar URL
    with django_assert_num_queries(4):
        assert client.get(reverse("notifications:settings")).status_code == 200
