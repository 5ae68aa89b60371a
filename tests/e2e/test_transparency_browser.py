"""Transparency (SPEC §11) in Chromium: a shop views a creator's data; the creator reads it in
数据访问记录, sees an idle grant, and previews what a shop would see, before authorizing and for a
grant."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from grants.factories import GrantFactory
from grants.models import AccessLogEntry, Grant
from livestreams.factories import LivestreamFactory
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_creator_reads_the_access_log_and_previews(live_server, browser, page, login_as, screenshot, console_errors):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="花漾美妆旗舰店", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    today = timezone.localdate()
    grant = GrantFactory(creator=creator, organization=shop)
    GrantFactory(
        creator=creator, organization=ShopFactory(name="久未查看专营店"), starts_on=today - datetime.timedelta(days=30)
    )
    ShopFactory(name="新合作旗舰店")
    now = timezone.now()
    streams = [
        LivestreamFactory(
            creator=creator, cooperating=[shop], started_at=now - datetime.timedelta(days=days), minutes=20
        )
        for days in (1, 4, 9)
    ]

    # The shop looks at the overview and a module, in its own browser context.
    shop_context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 860})
    shop_page = shop_context.new_page()
    login_as(shop_page, "shop")
    shop_page.goto(live_server.url + reverse("livestreams:creator_overview", args=[creator.pk]))
    shop_page.locator("[data-kpi=gmv]").wait_for()
    shop_page.goto(live_server.url + reverse("livestreams:traffic", args=[streams[0].pk]))
    shop_page.goto(live_server.url + reverse("livestreams:traffic", args=[streams[0].pk]))
    shop_context.close()
    assert AccessLogEntry.objects.filter(grant=grant).count() == 2

    login_as(page, "creator")
    page.get_by_role("link", name="数据访问记录").click()
    table = page.locator("#access-log-table")
    table.wait_for()
    assert table.locator("tbody tr").count() == 2
    assert "花漾美妆旗舰店" in table.inner_text()
    screenshot(page, "transparency-1-access-log")

    page.get_by_role("link", name="数据授权管理").click()
    idle_row = page.locator("#grant-rows tr", has_text="久未查看专营店")
    idle_row.locator(".badge-idle").wait_for()
    assert page.locator("#grant-rows tr", has_text="花漾美妆旗舰店").locator(".badge-idle").count() == 0
    screenshot(page, "transparency-2-idle-grant")

    # Before authorizing: the dialog's 以商家视角预览.
    page.get_by_role("link", name="新增授权").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("新合作")
    dialog.get_by_text("新合作旗舰店").click()
    dialog.get_by_label("截止日期").fill((today + datetime.timedelta(days=30)).isoformat())
    dialog.get_by_role("button", name="以商家视角预览").click()
    page.wait_for_url("**/preview/**")
    banner = page.locator(".banner-preview")
    assert "预览：这是「新合作旗舰店」将看到的内容" in banner.inner_text()
    page.locator("[data-kpi=gmv]").wait_for()
    screenshot(page, "transparency-3-preview-before-authorizing")
    assert Grant.objects.filter(organization__name="新合作旗舰店").count() == 0

    # For an existing grant: from its page.
    page.goto(live_server.url + reverse("grants:grant_detail", args=[grant.pk]))
    page.get_by_role("link", name="以商家视角预览").click()
    page.wait_for_url("**/preview/**")
    assert "花漾美妆旗舰店" in page.locator(".banner-preview").inner_text()
    page.get_by_role("navigation", name="数据页面").get_by_role("link", name="直播列表").click()
    page.wait_for_url("**/preview/**/livestreams/**")
    page.locator("#livestream-table tbody tr").first.wait_for()
    screenshot(page, "transparency-4-preview-grant-livestreams")
    assert AccessLogEntry.objects.count() == 2  # the previews recorded nothing
    assert console_errors == []
