"""Requests and the inbox in Chromium (issue 13): a shop asks for full data, the creator sees the badge
and approves with an edited period, the shop's bell shows the approval; a bulk decline with a reason
that the requester reads; an expired request that cannot be approved; the inbox in English.

Set-up uses the factories; after that the app is driven through the browser only, and the database
is read to assert outcomes. Screenshots: requests-*.png, inbox-*.png.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory, LivestreamAccessRequestFactory
from grants.models import Grant, GrantRequest, LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from notifications.models import Message
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

from .test_english_browser import assert_english, switch_to_english, visible_cjk
from .test_journeys import settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _day(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _creator(name="小雅美妆"):
    return CreatorFactory(
        name=name, douyin_id="dy_xiaoya", user=UserFactory(username="creator", password=DEMO_PASSWORD)
    )


def _shop(name="花漾美妆旗舰店"):
    return ShopFactory(name=name, main__user__username="shop", main__user__password=DEMO_PASSWORD)


def new_page(browser, browser_context_args, errors: list[str], who: str, width: int = 1360):
    context = browser.new_context(**{**browser_context_args, "viewport": {"width": width, "height": 860}})
    page = context.new_page()
    page.on("console", lambda msg: errors.append(f"{who}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{who} page error: {error}"))
    return page


def bell(page) -> str:
    """The bell's count as shown ("" when hidden)."""
    count = page.locator("#bell .bell-count")
    return "" if count.is_hidden() else count.inner_text()


def test_shop_requests_full_data_creator_approves_with_edited_period_shop_is_told(
    live_server, browser, browser_context_args, login_as, screenshot
):
    creator = _creator()
    shop = _shop()
    CreatorFactory(name="小雅穿搭")  # a second match in the search
    errors: list[str] = []

    owner_side = new_page(browser, browser_context_args, errors, "shop")
    login_as(owner_side, "shop")
    owner_side.get_by_role("link", name="申请全部带货数据").click()
    dialog = owner_side.locator("#dialog")
    dialog.wait_for(state="visible")
    settled(owner_side)
    dialog.get_by_placeholder("输入达人昵称或抖音号搜索").fill("dy_xiaoya")
    dialog.locator("#creator-results li").first.wait_for()
    dialog.get_by_text("小雅美妆").click()
    dialog.get_by_label("截止日期").fill(_day(59).isoformat())
    dialog.get_by_label("留言（选填）").fill("您好，我们希望查看近期的带货数据，以便备货。")
    screenshot(owner_side, "requests-1-shop-asks-for-full-data")
    dialog.get_by_role("button", name="提交申请").click()
    owner_side.locator("#messages", has_text="已向「小雅美妆」提交申请").wait_for()
    owner_side.locator("#org-grant-request-list tr", has_text="小雅美妆").get_by_text("待审批").wait_for()
    screenshot(owner_side, "requests-2-shop-request-pending")
    grant_request = GrantRequest.objects.get()
    assert (grant_request.creator, grant_request.organization, grant_request.ends_on) == (creator, shop, _day(59))

    creator_side = new_page(browser, browser_context_args, errors, "creator")
    login_as(creator_side, "creator")
    badge = creator_side.locator("#pending-grant-badge")
    assert badge.inner_text() == "1"
    assert bell(creator_side) == "1"
    creator_side.get_by_role("navigation", name="主导航").get_by_role("link", name="数据授权管理").click()
    creator_side.get_by_role("link", name=re.compile("^待处理")).click()
    row = creator_side.locator("tr", has_text="花漾美妆旗舰店")
    row.get_by_text("您好，我们希望查看近期的带货数据").wait_for()
    screenshot(creator_side, "requests-3-creator-pending-tab")
    row.get_by_role("link", name="授权").click()
    approve = creator_side.locator("#dialog")
    approve.wait_for(state="visible")
    settled(creator_side)
    assert approve.get_by_label("截止日期").input_value() == _day(59).isoformat()
    approve.get_by_label("截止日期").fill(_day(29).isoformat())  # the creator shortens the period
    screenshot(creator_side, "requests-4-creator-approves-with-edited-period")
    approve.get_by_role("button", name="确认授权").click()
    approve.wait_for(state="hidden")
    creator_side.locator("#messages", has_text="已同意「花漾美妆旗舰店」的申请").wait_for()
    badge.wait_for(state="hidden")
    grant = Grant.objects.get()
    assert (grant.organization, grant.starts_on, grant.ends_on) == (shop, _day(0), _day(29))

    owner_side.reload()
    assert bell(owner_side) == "1"
    owner_side.locator("#bell").click()
    item = owner_side.locator(".inbox-item", has_text="申请已通过")
    item.get_by_text(_day(29).isoformat()).wait_for()
    screenshot(owner_side, "requests-5-shop-inbox-approved")
    item.get_by_role("link").click()
    owner_side.get_by_role("heading", name="小雅美妆").wait_for()  # the grant it is about
    assert owner_side.url.endswith(reverse("grants:grant_detail", args=[grant.pk]))
    assert bell(owner_side) == ""
    assert Message.objects.get(recipient=shop.main_account).read_at is not None
    assert errors == []


def test_bulk_decline_with_a_reason_the_requester_reads(
    live_server, browser, browser_context_args, login_as, screenshot
):
    creator = _creator()
    shop = _shop()
    SubAccountFactory(organization=shop, username="shop-staff", password=DEMO_PASSWORD)
    staff = shop.memberships.get(role="sub").user
    for title in ("冬季穿搭福利夜", "年货节提前购", "护肤干货分享"):
        stream = LivestreamFactory(creator=creator, cooperating=[shop], title=title, minutes=0)
        services.request_livestream_access(livestream=stream, actor=staff)
    errors: list[str] = []

    creator_side = new_page(browser, browser_context_args, errors, "creator")
    login_as(creator_side, "creator")
    assert creator_side.locator("#pending-badge").inner_text() == "3"
    creator_side.get_by_role("link", name="直播间数据管理").click()
    creator_side.get_by_label("全选").check()
    creator_side.locator("tr", has_text="护肤干货分享").get_by_role("checkbox").uncheck()
    creator_side.get_by_placeholder("拒绝理由（选填）").fill("该场直播数据仍在核对中，请下周再申请。")
    screenshot(creator_side, "requests-6-creator-bulk-decline")
    creator_side.get_by_role("button", name="批量拒绝").click()
    creator_side.locator("#messages", has_text="已处理 2 项").wait_for()
    creator_side.locator("#pending-badge", has_text="1").wait_for()
    screenshot(creator_side, "requests-7-creator-bulk-declined")
    declined = LivestreamAccessRequest.objects.filter(status="declined")
    assert sorted(declined.values_list("livestream__title", flat=True)) == ["冬季穿搭福利夜", "年货节提前购"]
    assert set(declined.values_list("reason", flat=True)) == {"该场直播数据仍在核对中，请下周再申请。"}

    staff_side = new_page(browser, browser_context_args, errors, "staff")
    login_as(staff_side, "shop-staff")
    assert bell(staff_side) == "2"
    row = staff_side.locator("#org-request-list tr", has_text="年货节提前购")
    row.get_by_text("已拒绝").wait_for()
    row.locator(".reason", has_text="理由：该场直播数据仍在核对中").wait_for()
    screenshot(staff_side, "requests-8-staff-sees-the-reason")
    staff_side.locator("#bell").click()
    staff_side.locator(".inbox-item", has_text="冬季穿搭福利夜").get_by_text("该场直播数据仍在核对中").wait_for()
    screenshot(staff_side, "inbox-1-staff-declined-with-reason")
    staff_side.get_by_role("button", name="全部已读").click()
    staff_side.locator(".inbox-item").first.wait_for(state="detached")
    assert bell(staff_side) == ""
    assert errors == []


def test_an_expired_request_cannot_be_approved(live_server, browser, browser_context_args, login_as, screenshot):
    creator = _creator()
    shop = _shop()
    stale = GrantRequestFactory(creator=creator, organization=shop, expired=True, message="想看数据")
    stream = LivestreamFactory(creator=creator, cooperating=[shop], title="冬季穿搭福利夜", minutes=0)
    LivestreamAccessRequestFactory(livestream=stream, organization=shop, expired=True)
    errors: list[str] = []

    page = new_page(browser, browser_context_args, errors, "creator")
    login_as(page, "creator")
    assert page.locator("#pending-grant-badge").is_hidden()
    page.goto(live_server.url + reverse("grants:creator_grants") + "?status=pending")
    page.get_by_text("暂无待处理的申请").wait_for()
    page.get_by_role("link", name=re.compile("^申请记录")).click()
    row = page.locator("tr", has_text="花漾美妆旗舰店")
    row.locator(".badge", has_text="过期未处理").wait_for()
    assert row.get_by_role("link", name="授权").count() == 0
    screenshot(page, "requests-9-expired-in-history")
    # The approve page itself, opened directly: refused, nothing granted.
    page.goto(live_server.url + reverse("grants:approve_grant_request", args=[stale.pk]))
    page.get_by_label("开始日期").fill(_day(0).isoformat())
    page.get_by_label("截止日期").fill(_day(9).isoformat())
    page.get_by_role("button", name="确认授权").click()
    page.get_by_text("该申请已超过 7 天未处理，已过期，不能再处理。").wait_for()
    screenshot(page, "requests-10-expired-cannot-be-approved")
    assert Grant.objects.count() == 0
    page.goto(live_server.url + reverse("grants:creator_requests") + "?status=expired")
    expired_row = page.locator("tr", has_text="冬季穿搭福利夜")
    expired_row.locator(".badge", has_text="过期未处理").wait_for()
    assert expired_row.get_by_role("button").count() == 0
    assert [e for e in errors if "422" not in e] == []


def test_the_inbox_in_english(live_server, browser, browser_context_args, login_as, screenshot):
    creator = CreatorFactory(name="Mia Style", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="Bloom Beauty", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    grant = GrantFactory(creator=creator, organization=shop)
    services.renew_early(grant=grant, ends_on=grant.ends_on + datetime.timedelta(days=30), actor=creator.user)
    refused = services.request_grant(
        creator=CreatorFactory(name="Leo Outdoor"), starts_on=_day(0), ends_on=_day(30), actor=shop.main_account
    )
    services.decline_grant_request(request=refused, actor=refused.creator.user, reason="Fully booked this month")
    errors: list[str] = []
    page = new_page(browser, browser_context_args, errors, "shop")
    login_as(page, "shop")
    switch_to_english(page)
    page.get_by_role("link", name=re.compile("^Inbox")).click()
    assert_english(page, "Inbox", "Unread", "Mark all read", "Request declined", "Fully booked this month")
    page.get_by_text("renewed your full-data grant").wait_for()
    screenshot(page, "en-inbox")
    page.get_by_role("link", name="Notification settings").click()
    page.locator("html[lang=en]").wait_for(state="attached")
    body = page.locator("main").inner_text()
    for label in ("Notification settings", "Email address", "Grants and decisions", "Email language"):
        assert label in body
    # The email language is named in itself (简体中文), like the language switch: nothing else is Chinese.
    assert [line for line in visible_cjk(page) if line != "简体中文"] == []
    screenshot(page, "en-notification-settings")
    assert errors == []


@pytest.mark.parametrize("width", [390])
def test_the_pending_tab_and_inbox_on_a_phone(live_server, browser, browser_context_args, login_as, screenshot, width):
    creator = _creator()
    for name in ("花漾美妆旗舰店", "星途文化传媒"):
        services.request_grant(
            creator=creator, starts_on=_day(0), ends_on=_day(89), actor=ShopFactory(name=name).main_account,
            message="希望查看近期带货数据。",
        )  # fmt: skip
    errors: list[str] = []
    page = new_page(browser, browser_context_args, errors, "creator", width=width)
    login_as(page, "creator")
    page.goto(live_server.url + reverse("grants:creator_grants") + "?status=pending")
    page.get_by_text("星途文化传媒").wait_for()
    screenshot(page, "requests-phone-pending-tab")
    page.goto(live_server.url + reverse("notifications:inbox"))
    page.locator(".inbox-item").first.wait_for()
    screenshot(page, "inbox-phone")
    # Nothing runs off the right edge of the screen (tables scroll inside their own box).
    for part in ("header.topbar", "main", ".inbox-item"):
        assert page.locator(part).first.bounding_box()["width"] <= width, part
    assert errors == []
