"""Accessibility: axe-core (bundled by axe-playwright-python) on the pages of every role, in Chinese
and in English, after the page has settled. Any WCAG 2.1 A/AA violation fails the test with axe's
report (rule, impact, the elements). Colour contrast is checked as rendered in Chromium."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from grants import services
from grants.factories import GrantFactory
from livestreams.factories import LivestreamFactory
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def world():
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="花漾美妆旗舰店", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    staff = SubAccountFactory(organization=shop, username="shop-staff", password=DEMO_PASSWORD)
    grant = GrantFactory(creator=creator, organization=shop)
    GrantFactory(creator=creator, expired=True)
    ended = LivestreamFactory(creator=creator, cooperating=[shop], title="冬季穿搭福利夜", minutes=30)
    live = LivestreamFactory(creator=creator, cooperating=[shop], title="周末宠粉福利", live=True, minutes=30)
    request = services.request_livestream_access(livestream=ended, actor=staff)
    # A full-data request to decide (its message tells the creator) and a declined one for the shop.
    asking = ShopFactory(name="星途文化传媒")
    grant_request = services.request_grant(
        creator=creator, starts_on=grant.starts_on.today(), ends_on=grant.ends_on, actor=asking.main_account,
        message="希望查看近期带货数据。",
    )  # fmt: skip
    other = CreatorFactory(name="阿峰好物")
    declined = services.request_grant(
        creator=other, starts_on=grant.starts_on.today(), ends_on=grant.ends_on, actor=shop.main_account
    )
    services.decline_grant_request(request=declined, actor=other.user, reason="档期已满")
    return {
        "creator": creator, "shop": shop, "grant": grant, "ended": ended, "live": live, "request": request,
        "grant_request": grant_request,
    }  # fmt: skip


def assert_accessible(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{label} ({page.url}):\n{results.generate_report()}"


def creator_pages(world):
    creator, ended, live = world["creator"], world["ended"], world["live"]
    return [
        ("overview", reverse("livestreams:creator_overview", args=[creator.pk])),
        ("livestream list", reverse("livestreams:creator_livestreams", args=[creator.pk])),
        ("grants", reverse("grants:creator_grants")),
        ("grant history", reverse("grants:grant_detail", args=[world["grant"].pk])),
        ("requests", reverse("grants:creator_requests")),
        ("pending full-data requests", reverse("grants:creator_grants") + "?status=pending"),
        ("full-data request", reverse("grants:grant_request_detail", args=[world["grant_request"].pk])),
        ("approve a request", reverse("grants:approve_grant_request", args=[world["grant_request"].pk])),
        ("decline with a reason", reverse("grants:decline_request", args=[world["request"].pk])),
        ("data access log", reverse("grants:access_log")),
        ("inbox", reverse("notifications:inbox")),
        ("notification settings", reverse("notifications:settings")),
        ("livestream detail", reverse("livestreams:detail", args=[ended.pk])),
        ("big screen, live", reverse("livestreams:big_screen", args=[live.pk])),
        ("traffic", reverse("livestreams:traffic", args=[ended.pk])),
        ("audience", reverse("livestreams:audience", args=[ended.pk])),
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_creator_pages_are_accessible(live_server, page, login_as, world, language):
    login_as(page, "creator")
    if language == "en":
        page.get_by_label("语言").select_option("en")
        page.locator("html[lang=en]").wait_for(state="attached")
    for label, path in creator_pages(world):
        page.goto(live_server.url + path)
        assert_accessible(page, label)
    page.goto(live_server.url + reverse("grants:creator_grants"))
    page.locator("a.btn-primary[hx-get]").click()
    page.locator("#dialog[open] input[type=search]").wait_for()
    assert_accessible(page, "authorize dialog")


def test_organization_pages_are_accessible(live_server, page, login_as, world):
    login_as(page, "shop")
    page.goto(live_server.url + reverse("grants:org_home"))
    assert_accessible(page, "personal center")
    page.locator("#perspective-switcher summary").click()
    page.locator(".perspective-menu").get_by_role("button", name="小雅美妆").wait_for()
    assert_accessible(page, "perspective menu open")
    page.goto(live_server.url + reverse("livestreams:org_livestreams"))
    assert_accessible(page, "cooperating livestreams")
    page.goto(live_server.url + reverse("grants:request_grant") + "?q=阿")
    assert_accessible(page, "request full data, search results")
    page.goto(live_server.url + reverse("grants:request_extension", args=[world["grant"].pk]))
    assert_accessible(page, "request an extension")
    page.goto(live_server.url + reverse("notifications:inbox") + "?show=all")
    assert_accessible(page, "inbox")
    page.context.clear_cookies()  # signed out
    login_as(page, "shop-staff")
    page.goto(live_server.url + reverse("livestreams:detail", args=[world["live"].pk]))
    assert_accessible(page, "livestream detail, locked")


def test_login_and_error_pages_are_accessible(live_server, page, login_as, world):
    page.goto(live_server.url + reverse("login"))
    assert_accessible(page, "login")
    page.get_by_label("用户名").fill("creator")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    assert_accessible(page, "login refused")
    login_as(page, "creator")
    page.goto(live_server.url + reverse("livestreams:creator_overview", args=[world["creator"].pk + 999]))
    assert_accessible(page, "404")
