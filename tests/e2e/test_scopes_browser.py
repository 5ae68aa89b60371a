"""SPEC §12 in Chromium: the creator authorizes with a narrower scope (the checkboxes), the main
account delegates the grant to its sub-account on the grant page (子账号授权), and the sub-account
switches into the creator's perspective and sees the delegated pages only."""

import datetime

import pytest
from django.utils import timezone

from grants.models import Delegation, Grant
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def new_page(browser, browser_context_args, errors: list[str], who: str):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.on("console", lambda msg: errors.append(f"{who}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{who} page error: {error}"))
    return page


def test_scope_checkboxes_delegation_and_the_delegates_perspective(
    live_server, browser, browser_context_args, login_as, screenshot
):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="花漾美妆旗舰店", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    SubAccountFactory(organization=shop, username="shop-staff", password=DEMO_PASSWORD, first_name="小王")
    today = timezone.localdate()
    end = today + datetime.timedelta(days=60)

    errors: list[str] = []
    page = new_page(browser, browser_context_args, errors, "creator")
    login_as(page, "creator")
    page.get_by_role("link", name="数据授权管理").click()
    page.get_by_role("link", name="新增授权").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("花漾")
    dialog.get_by_text("花漾美妆旗舰店").click()
    dialog.get_by_label("截止日期").fill(end.isoformat())
    for part in ("商品与店铺", "直播间模块"):  # keep 数据概览 and 直播列表
        dialog.get_by_label(part).uncheck()
    screenshot(page, "scopes-1-authorize-scope-checkboxes")
    dialog.get_by_role("button", name="确认授权").click()
    dialog.wait_for(state="hidden")
    page.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_text("数据概览、直播列表").wait_for()
    grant = Grant.objects.get(creator=creator)
    assert grant.parts == {"overview", "livestreams"}
    page.close()

    page = new_page(browser, browser_context_args, errors, "shop")
    login_as(page, "shop")
    page.goto(live_server.url + f"/grants/{grant.pk}/")
    section = page.locator("#delegations")
    section.get_by_label("子账号").select_option(label="小王")
    section.get_by_label("截止日期").fill((today + datetime.timedelta(days=30)).isoformat())
    section.get_by_label("直播列表").uncheck()
    section.get_by_role("button", name="授权子账号").click()
    page.locator("#delegations tbody tr", has_text="小王").wait_for()
    screenshot(page, "scopes-2-delegation-section")
    delegation = Delegation.objects.get()
    assert delegation.parts == {"overview"}
    page.close()

    page = new_page(browser, browser_context_args, errors, "staff")
    login_as(page, "shop-staff")
    page.locator("#perspective-switcher summary").click()
    page.get_by_role("button", name="小雅美妆").click()
    page.wait_for_url(f"**/creators/{creator.pk}/**")
    assert "数据概览" in page.get_by_role("navigation", name="数据页面").inner_text()
    assert "直播列表" not in page.get_by_role("navigation", name="数据页面").inner_text()
    screenshot(page, "scopes-3-delegate-overview")
    assert errors == []
    response = page.goto(live_server.url + f"/creators/{creator.pk}/livestreams/")
    assert response.status == 404  # outside the delegated scope: as absent
