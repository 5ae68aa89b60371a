"""The portal in English, in Chromium: a creator switches the language in the header and walks the
portal by clicking; a main account switches into the creator's perspective and reads the banner.

On every page: ``<html lang="en">``, the key English labels, and no CJK text in what the user sees
(``body.inner_text()``) — the test data has ASCII names, so any Chinese left is an untranslated
string. Screenshots: docs/screenshots/en-*.png.
"""

import datetime
import re

import pytest
from django.utils import timezone

from grants import services
from grants.factories import GrantFactory
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Audience, ProductSale
from portal.factories import DEMO_PASSWORD, AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3200-\u32ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\uac00-\ud7af]"
)


def visible_cjk(page) -> list[str]:
    """Lines of visible text that still contain CJK characters.

    Not counted: the language switch, which names each language in itself (简体中文).
    """
    text = page.locator("body").inner_text()
    for fixed in ("简体中文",):
        text = text.replace(fixed, "", 1)
    return [line.strip() for line in text.splitlines() if CJK.search(line)]


def assert_english(page, *labels: str) -> None:
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    body = page.locator("body").inner_text()
    missing = [label for label in labels if label not in body]
    assert missing == [], f"English labels missing on {page.url}: {missing}"
    leftovers = visible_cjk(page)
    assert leftovers == [], f"Chinese text on the English page {page.url}: {leftovers}"


def switch_to_english(page) -> None:
    page.get_by_label("语言").select_option("en")
    page.locator("html[lang=en]").wait_for(state="attached")  # not a JS expression: the CSP forbids eval
    page.wait_for_load_state("networkidle")


def ascii_data(*livestreams) -> None:
    """The factories pick Chinese product and place names; give them English ones (the products
    through their writer, so the overview's roll-up of them follows)."""
    number = 0
    for livestream in livestreams:
        products = list(ProductSale.objects.filter(livestream=livestream).order_by("pk").values(*writes.PRODUCT_FIELDS))
        for product in products:
            number += 1
            product["name"] = f"Product {number}"
        writes.replace_products(livestream=livestream, products=products)
    for livestream in livestreams:
        Audience.objects.filter(livestream=livestream).update(
            provinces={"Guangdong": 0.24, "Zhejiang": 0.18, "Jiangsu": 0.12, "Sichuan": 0.08},
            cities={"Shanghai": 0.14, "Hangzhou": 0.11, "Chengdu": 0.07},
        )


@pytest.fixture
def world():
    now = timezone.now()
    ava = CreatorFactory(name="Ava Chen", user=UserFactory(username="ava", password=DEMO_PASSWORD))
    bloom = ShopFactory(name="Bloom Beauty", main__user__username="bloom", main__user__password=DEMO_PASSWORD)
    staff = SubAccountFactory(organization=bloom, username="bloom-staff", password=DEMO_PASSWORD)
    grant = GrantFactory(creator=ava, organization=bloom)
    GrantFactory(creator=ava, organization=AgencyFactory(name="Northstar Media"), scheduled=True)
    GrantFactory(creator=ava, organization=ShopFactory(name="Maple Home"), expired=True)
    GrantFactory(creator=ava, organization=ShopFactory(name="Pine Outdoor"), revoked=True)
    stream = LivestreamFactory(
        creator=ava, cooperating=[bloom], title="Spring Skincare Night", started_at=now - datetime.timedelta(days=2),
        minutes=90,
    )  # fmt: skip
    older = LivestreamFactory(
        creator=ava, cooperating=[bloom], title="Weekend Deals", started_at=now - datetime.timedelta(days=6),
        minutes=60,
    )  # fmt: skip
    ascii_data(stream, older)
    services.request_livestream_access(livestream=stream, actor=staff)
    return {"creator": ava, "grant": grant, "stream": stream}


def test_creator_walks_the_portal_in_english(world, page, login_as, screenshot, console_errors):
    stream = world["stream"]
    login_as(page, "ava")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_role("link", name="数据概览").first.wait_for()

    switch_to_english(page)
    assert_english(page, "Overview", "Data authorization", "Livestream requests", "GMV", "Units sold", "Daily trend")
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert cookies.get("portal_language") == "en"  # the choice is kept in the language cookie
    screenshot(page, "en-01-overview")

    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Data authorization").click()
    page.wait_for_url("**/grants/")
    assert_english(page, "New grant", "Scheduled", "Active", "Expired", "Revoked", "Days left", "Renew early")
    assert page.locator("tr", has_text="Bloom Beauty").get_by_role("link", name="Revoke").is_visible()
    assert page.locator("tr", has_text="Maple Home").get_by_role("link", name="Renew").is_visible()
    assert page.locator("tr", has_text="Pine Outdoor").get_by_role("link", name="Grant again").is_visible()
    screenshot(page, "en-02-data-authorization")

    page.get_by_role("link", name="New grant").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_placeholder("Search by shop or agency name").fill("Bloom")
    dialog.locator("#org-results", has_text="Bloom Beauty").wait_for()
    assert_english(page, "Start date", "End date", "Confirm grant", "Cancel")
    assert dialog.get_by_role("link", name="Renew early").is_visible()
    screenshot(page, "en-03-authorize-dialog")
    dialog.get_by_role("link", name="Cancel").click()
    dialog.wait_for(state="hidden")

    nav.get_by_role("link", name="Livestream requests").click()
    page.wait_for_url("**/requests/")
    row = page.locator("tr", has_text="Bloom Beauty")
    assert_english(page, "Pending", "Requested by", "Requested at", "Sub-account")
    assert row.get_by_role("button", name="Approve").is_visible()
    assert row.get_by_role("link", name="Decline").is_visible()  # opens the dialog asking for a reason
    screenshot(page, "en-04-livestream-requests")

    row.get_by_role("link", name="Spring Skincare Night").click()
    page.wait_for_url(f"**/livestreams/{stream.pk}/")
    assert_english(page, "Basic data", "More data", "All data unlocked", "Live big screen", "Traffic conversion")
    screenshot(page, "en-05-livestream-detail")

    page.locator(".module-card", has_text="Live big screen").click()
    page.wait_for_url("**/big-screen/")
    assert_english(page, "Online viewers (per minute)", "GMV (per minute)", "Product ranking", "Avg. watch time")
    screenshot(page, "en-06-big-screen")

    modules = page.get_by_role("navigation", name="Data modules")
    modules.get_by_role("link", name="Traffic conversion").click()
    page.wait_for_url("**/traffic/")
    assert_english(page, "Conversion funnel", "Traffic sources", "Room entries", "Recommendation feed")
    screenshot(page, "en-07-traffic")

    modules.get_by_role("link", name="Audience portrait").click()
    page.wait_for_url("**/audience/")
    assert_english(page, "Gender", "Age", "Top 10 provinces", "Top 10 cities", "Returning viewers")
    screenshot(page, "en-08-audience")
    assert console_errors == []


def test_main_account_sees_the_creator_view_banner_in_english(world, page, login_as, screenshot, console_errors):
    creator = world["creator"]
    login_as(page, "bloom")
    switch_to_english(page)
    assert_english(page, "Personal center", "Full-data grants from creators", "Single-livestream data requests")
    screenshot(page, "en-09-personal-center")

    page.locator("#perspective-switcher summary").click()
    menu = page.locator(".perspective-menu")
    menu.wait_for(state="visible")
    menu.get_by_role("button", name="Ava Chen").wait_for()  # the creators are fetched when the menu opens
    assert_english(page, "Shop view", "Your organization", "Creator view (granted)", "Granted until")
    screenshot(page, "en-10-perspective-menu")
    menu.get_by_role("button", name="Ava Chen").click()
    page.wait_for_url(f"**/creators/{creator.pk}/")

    banner = page.locator(".banner")
    end = world["grant"].ends_on
    assert (
        f"You are viewing Ava Chen's data in the creator view (read-only); the grant runs until {end:%Y-%m-%d}."
        in banner.inner_text()
    )
    assert_english(page, "Back to organization view", "Creator data", "Read-only", "Overview")
    screenshot(page, "en-11-creator-view-banner")

    banner.get_by_role("button", name="Back to organization view").click()
    page.wait_for_url("**/org/")
    assert page.locator(".banner").count() == 0
    assert_english(page, "Personal center")
    assert console_errors == []
