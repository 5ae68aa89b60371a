"""`shop` switches to `creator`'s perspective, reads the overview, changes the range, opens modules."""

import datetime

import pytest
from django.utils import timezone

from grants.factories import GrantFactory
from livestreams.factories import LivestreamFactory
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shop_views_creator_data_in_perspective(live_server, page, login_as, screenshot, console_errors):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="花漾美妆旗舰店", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    GrantFactory(creator=creator, organization=shop)
    now = timezone.now()
    for days in (1, 3, 5, 12, 20, 45, 70):
        LivestreamFactory(
            creator=creator, cooperating=[shop], started_at=now - datetime.timedelta(days=days), minutes=30
        )

    login_as(page, "shop")
    page.locator("#perspective-switcher summary").click()
    page.get_by_role("button", name="小雅美妆").click()
    page.wait_for_url(f"**/creators/{creator.pk}/")
    assert "您正在以达人视角查看「小雅美妆」的数据" in page.locator(".banner").inner_text()
    page.locator("[data-kpi=gmv]").wait_for()
    screenshot(page, "creator-data-1-overview-30d")

    page.get_by_role("navigation", name="时间范围").get_by_role("link", name="近90天").click()
    page.wait_for_url("**range=90")
    page.locator(".range-caption", has_text="共 90 天").wait_for()
    assert page.locator("#daily-trend").count() == 1
    screenshot(page, "creator-data-2-overview-90d")

    page.get_by_role("link", name="查看全部直播").click()
    page.locator("#livestream-table tbody tr").first.wait_for()
    assert page.locator("#livestream-table tbody tr").count() == 7
    screenshot(page, "creator-data-3-livestreams")
    page.locator("#livestream-table tbody tr a").first.click()
    page.get_by_text("已解锁全部数据").wait_for()
    page.get_by_role("link", name="直播大屏").first.click()
    page.locator("#bs-online svg").wait_for()
    screenshot(page, "creator-data-4-big-screen")
    assert console_errors == []
