"""A creator authorizes an organization found by search, renews it early, and revokes it — in Chromium."""

import datetime

import pytest
from django.utils import timezone

from grants.models import Grant, GrantEvent
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_creator_authorizes_renews_early_and_revokes(live_server, page, login_as, screenshot, console_errors):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    ShopFactory(name="花漾美妆旗舰店")
    ShopFactory(name="花漾家居专营店")
    today = timezone.localdate()
    end = today + datetime.timedelta(days=30)

    login_as(page, "creator")
    page.get_by_role("link", name="数据授权管理").click()
    page.get_by_role("link", name="新增授权").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("花漾")
    dialog.locator("#org-results li").nth(1).wait_for()
    screenshot(page, "grants-1-authorize-search")
    dialog.get_by_text("花漾美妆旗舰店").click()
    dialog.get_by_label("截止日期").fill(end.isoformat())
    dialog.get_by_role("button", name="确认授权").click()
    dialog.wait_for(state="hidden")
    row = page.locator("#grant-rows tr", has_text="花漾美妆旗舰店")
    row.get_by_text("已授权").wait_for()
    assert "已授权「花漾美妆旗舰店」" in page.locator("#messages").inner_text()
    screenshot(page, "grants-2-authorized")

    row.get_by_role("link", name="提前续约").click()
    dialog.wait_for(state="visible")
    assert dialog.locator("#renewal-start").get_attribute("readonly") is not None
    dialog.get_by_label("新的截止日期").fill(end.isoformat())  # not later: refused inline
    dialog.get_by_role("button", name="确认续约").click()
    dialog.get_by_text("新的截止日期必须晚于当前截止日期").wait_for()
    screenshot(page, "grants-3-renew-early-error")
    later = end + datetime.timedelta(days=60)
    dialog.get_by_label("新的截止日期").fill(later.isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    dialog.wait_for(state="hidden")
    page.locator("#grant-rows tr", has_text=later.isoformat()).wait_for()

    page.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_role("link", name="解除授权").click()
    dialog.wait_for(state="visible")
    screenshot(page, "grants-4-revoke-confirm")
    dialog.get_by_role("button", name="确认解除").click()
    dialog.wait_for(state="hidden")
    page.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_text("已被解除授权").wait_for()
    screenshot(page, "grants-5-revoked")

    grant = Grant.objects.get(creator=creator)
    assert grant.status == "revoked"
    assert grant.ends_on == later
    assert list(grant.events.order_by("at", "pk").values_list("operation", flat=True)) == [
        GrantEvent.Operation.AUTHORIZE, GrantEvent.Operation.RENEW_EARLY, GrantEvent.Operation.REVOKE,
    ]  # fmt: skip
    assert console_errors == []


def test_cancel_closes_dialog_and_creates_nothing(live_server, page, login_as, console_errors):
    CreatorFactory(user=UserFactory(username="creator", password=DEMO_PASSWORD))
    ShopFactory(name="取消测试店")
    login_as(page, "creator")
    page.get_by_role("link", name="数据授权管理").click()
    page.get_by_role("link", name="新增授权").click()
    page.locator("#dialog").wait_for(state="visible")
    page.locator("#dialog").get_by_role("link", name="取消").click()
    page.locator("#dialog").wait_for(state="hidden")
    page.get_by_role("link", name="新增授权").click()
    page.locator("#dialog").wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("#dialog").wait_for(state="hidden")
    assert Grant.objects.count() == 0
    assert console_errors == []
