"""End-to-end journeys in Chromium, each clicked through as a real user would (issue 6, item 1).

Set-up uses the factories; after that the app is driven only through the browser (and, for the live
big screen, through ``import_livestreams``, the way production feeds data). The database is read
only to assert outcomes. Every journey fails on a browser console error, a failed request or an
HTTP error response, except for the one URL a journey visits on purpose to see its 404.

Covered elsewhere (not repeated here): authorize/renew-early/revoke from the list
(``test_grants_browser.py``), unlock → approve → modules → revoke (``test_livestream_request_browser.py``),
the perspective overview (``test_creator_data_browser.py``), English (``test_english_browser.py``).
Screenshots of every step: ``docs/screenshots/journey-*.png``.
"""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream, MinutePoint
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Room for HTMX's 5 s polling interval, twice over, plus a slow CI machine.
POLL_WAIT_MS = 12_000


class BrowserWatch:
    """Console errors, failed requests and HTTP error responses of every page it watches.

    ``expect_error(url)`` allows exactly that URL to answer 4xx (a deliberate visit); anything else
    is recorded in ``errors``, which a journey asserts to be empty at the end.
    """

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: set[str] = set()

    def expect_error(self, url: str) -> None:
        self.allowed.add(url)

    def attach(self, page, who: str):
        def on_console(msg):
            if msg.type == "error" and (msg.location or {}).get("url") not in self.allowed:
                self.errors.append(f"{who} console: {msg.text} ({(msg.location or {}).get('url')})")

        def on_response(response):
            if response.status >= 400 and response.url not in self.allowed:
                self.errors.append(f"{who} {response.status}: {response.request.method} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"{who} page error: {error}"))
        page.on("requestfailed", lambda request: self.errors.append(f"{who} failed: {request.url} {request.failure}"))
        page.on("response", on_response)
        return page


@pytest.fixture
def watch():
    return BrowserWatch()


@pytest.fixture
def open_page(browser, browser_context_args, watch):
    """``open_page("who")``: a page in a new browser context (its own cookies, i.e. its own user)."""
    contexts = []

    def new(who: str):
        context = browser.new_context(**browser_context_args)
        contexts.append(context)
        return watch.attach(context.new_page(), who)

    yield new
    for context in contexts:
        context.close()


def settled(page):
    """Wait until HTMX has processed swapped-in content.

    HTMX binds the ``hx-*`` attributes of new content only when it settles (20 ms after the swap),
    while the dialog opens at the swap; a robot typing in that window would type into an input whose
    live search (or a form whose ``hx-post``) is not wired yet. A person is never that fast.
    """
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping')")
    return page


def _days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def _creator():
    return CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))


# --- a. authorize → the shop switches perspective → revoked → the shop falls back ------------------


def test_journey_shop_falls_back_to_own_perspective_after_revocation(
    live_server, open_page, watch, login_as, screenshot
):
    creator = _creator()
    shop = ShopFactory(name="花漾美妆旗舰店", main__user__username="shop", main__user__password=DEMO_PASSWORD)
    ShopFactory(name="花漾家居专营店")
    now = timezone.now()
    for days in (2, 6, 15):
        LivestreamFactory(
            creator=creator, cooperating=[shop], started_at=now - datetime.timedelta(days=days), minutes=30
        )
    end = _days(60)

    # The creator finds the shop by searching its name and authorizes it.
    owner = open_page("creator")
    login_as(owner, "creator")
    owner.get_by_role("link", name="数据授权管理").click()
    owner.get_by_role("link", name="新增授权").click()
    dialog = owner.locator("#dialog")
    dialog.wait_for(state="visible")
    settled(owner)
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("花漾")
    dialog.locator("#org-results li").nth(1).wait_for()
    screenshot(owner, "journey-a1-creator-searches-shop")
    dialog.get_by_text("花漾美妆旗舰店").click()
    dialog.get_by_label("截止日期").fill(end.isoformat())
    dialog.get_by_role("button", name="确认授权").click()
    dialog.wait_for(state="hidden")
    owner.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_text("已授权").wait_for()
    screenshot(owner, "journey-a2-creator-authorized-shop")

    # The shop's main account, in its own browser, switches into the creator's perspective.
    partner = open_page("shop")
    login_as(partner, "shop")
    partner.locator(f"#creator-row-{creator.pk}").get_by_text("已授权").wait_for()
    partner.locator("#perspective-switcher summary").click()
    partner.locator("#perspective-switcher").get_by_role("button", name="小雅美妆").click()
    overview_url = live_server.url + reverse("livestreams:creator_overview", args=[creator.pk])
    partner.wait_for_url(overview_url)
    banner = partner.locator(".banner")
    assert "您正在以达人视角查看「小雅美妆」的数据" in banner.inner_text()
    assert end.isoformat() in banner.inner_text()
    assert "达人视角" in partner.locator("#perspective-switcher summary").inner_text()
    partner.locator("[data-kpi=gmv]").wait_for()
    screenshot(partner, "journey-a3-shop-in-creator-perspective")

    # The creator revokes, in her own browser.
    owner.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_role("link", name="解除授权").click()
    dialog.wait_for(state="visible")
    settled(owner)
    dialog.get_by_role("button", name="确认解除").click()
    dialog.wait_for(state="hidden")
    owner.locator("#grant-rows tr", has_text="花漾美妆旗舰店").get_by_text("已被解除授权").wait_for()
    screenshot(owner, "journey-a4-creator-revoked")

    # The shop's very next click (the page it has open still shows the creator's data) falls back.
    assert partner.locator(".banner").is_visible()
    partner.get_by_role("navigation", name="主导航").get_by_role("link", name="达人数据").click()
    partner.wait_for_url(live_server.url + reverse("grants:org_home"))
    assert "已切换回本机构视角" in partner.locator("#messages").inner_text()
    assert partner.locator(".banner").count() == 0
    assert "商家视角" in partner.locator("#perspective-switcher summary").inner_text()
    assert partner.get_by_role("navigation", name="主导航").get_by_role("link", name="达人数据").count() == 0
    partner.locator(f"#creator-row-{creator.pk}").get_by_text("已被解除授权").wait_for()
    screenshot(partner, "journey-a5-shop-fell-back")

    # Later clicks show no stale message; the creator's data is now simply not there (404).
    partner.get_by_role("navigation", name="主导航").get_by_role("link", name="个人中心").click()
    partner.wait_for_load_state("networkidle")
    assert "已切换回本机构视角" not in partner.locator("#messages").inner_text()
    watch.expect_error(overview_url)
    response = partner.goto(overview_url)
    assert response.status == 404
    screenshot(partner, "journey-a6-shop-direct-url-404")

    grant = Grant.objects.get(creator=creator, organization=shop)
    assert grant.status == "revoked"
    assert list(grant.events.order_by("at", "pk").values_list("operation", flat=True)) == [
        GrantEvent.Operation.AUTHORIZE,
        GrantEvent.Operation.REVOKE,
    ]
    assert watch.errors == []


# --- b. the renewal forms, every rule refused inline ----------------------------------------------


def _errors(dialog, text: str):
    """The inline error (Django's error list, or the form's alert) containing ``text``."""
    return dialog.locator(".errorlist, .form-errors", has_text=text)


def test_journey_renewal_forms_refuse_each_rule_inline(live_server, open_page, watch, login_as, screenshot):
    creator = _creator()
    active_shop = ShopFactory(name="花漾美妆旗舰店")
    expired_shop = ShopFactory(name="花漾家居专营店")
    new_shop = ShopFactory(name="花漾零食铺")
    stale_shop = ShopFactory(name="花漾宠物用品店")
    active = GrantFactory(creator=creator, organization=active_shop, starts_on=_days(-10), ends_on=_days(20))
    expired = GrantFactory(creator=creator, organization=expired_shop, expired=True)
    stale = GrantFactory(creator=creator, organization=stale_shop, starts_on=_days(-90), ends_on=_days(-30))
    today = timezone.localdate()

    page = open_page("creator")
    login_as(page, "creator")
    page.get_by_role("link", name="数据授权管理").click()
    page.locator("#grant-rows tr").first.wait_for()
    screenshot(page, "journey-b1-grant-list")
    dialog = page.locator("#dialog")

    def row(name):
        return page.locator("#grant-rows tr", has_text=name)

    # Early renewal: a new end not later than the current one is refused, then a later one applies.
    row("花漾美妆旗舰店").get_by_role("link", name="提前续约").click()
    dialog.wait_for(state="visible")
    settled(page)
    assert dialog.locator("#renewal-start").input_value() == _days(1).isoformat()
    dialog.get_by_label("新的截止日期").fill(_days(15).isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    _errors(dialog, "新的截止日期必须晚于当前截止日期").wait_for()
    settled(page)
    assert _days(20).isoformat() in _errors(dialog, "新的截止日期必须晚于当前截止日期").inner_text()
    screenshot(page, "journey-b2-renew-early-end-not-later")
    dialog.get_by_label("新的截止日期").fill(_days(120).isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    dialog.wait_for(state="hidden")
    row("花漾美妆旗舰店").get_by_text(_days(120).isoformat()).wait_for()
    assert "提前续约至" in page.locator("#messages").inner_text()

    # Renewal of an expired grant: a start in the past, then an end before the start, then valid.
    assert row("花漾家居专营店").get_by_text("已到期").is_visible()
    row("花漾家居专营店").get_by_role("link", name="续约").click()
    dialog.wait_for(state="visible")
    settled(page)
    dialog.get_by_label("开始日期").fill(_days(-1).isoformat())
    dialog.get_by_label("截止日期").fill(_days(30).isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    _errors(dialog, "开始日期不能早于今天").wait_for()
    settled(page)
    assert today.isoformat() in _errors(dialog, "开始日期不能早于今天").inner_text()
    screenshot(page, "journey-b3-renew-start-in-past")
    dialog.get_by_label("开始日期").fill(_days(10).isoformat())
    dialog.get_by_label("截止日期").fill(_days(5).isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    _errors(dialog, "截止日期不能早于开始日期").wait_for()
    settled(page)
    assert _errors(dialog, "开始日期不能早于今天").count() == 0
    screenshot(page, "journey-b4-renew-end-before-start")
    dialog.get_by_label("开始日期").fill(today.isoformat())
    dialog.get_by_label("截止日期").fill(_days(90).isoformat())
    dialog.get_by_role("button", name="确认续约").click()
    dialog.wait_for(state="hidden")
    row("花漾家居专营店").get_by_text("已授权").wait_for()
    assert f"{today.isoformat()} ~ {_days(90).isoformat()}" in row("花漾家居专营店").inner_text()
    screenshot(page, "journey-b5-renewed-now-active")

    # Authorize with a start in the past: refused inline, the chosen organization stays chosen.
    page.get_by_role("link", name="新增授权").click()
    dialog.wait_for(state="visible")
    settled(page)
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("花漾零食")
    dialog.locator("#org-results li").first.wait_for()
    dialog.get_by_text("花漾零食铺").click()
    dialog.get_by_label("开始日期").fill(_days(-3).isoformat())
    dialog.get_by_label("截止日期").fill(_days(30).isoformat())
    dialog.get_by_role("button", name="确认授权").click()
    _errors(dialog, "开始日期不能早于今天").wait_for()
    settled(page)
    assert "花漾零食铺" in dialog.locator(".selected-org").inner_text()
    screenshot(page, "journey-b6-authorize-start-in-past")
    dialog.get_by_label("开始日期").fill(today.isoformat())
    dialog.get_by_role("button", name="确认授权").click()
    dialog.wait_for(state="hidden")
    row("花漾零食铺").get_by_text("已授权").wait_for()

    # An organization that already has a grant: the search shows its status and the right action.
    page.get_by_role("link", name="新增授权").click()
    dialog.wait_for(state="visible")
    settled(page)
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("花漾")
    results = dialog.locator("#org-results li")
    results.nth(3).wait_for()
    by_name = {name: results.filter(has_text=name) for name in ("花漾美妆旗舰店", "花漾宠物用品店")}
    assert by_name["花漾美妆旗舰店"].get_by_text("已授权").is_visible()
    assert by_name["花漾宠物用品店"].get_by_text("已到期").is_visible()
    assert by_name["花漾美妆旗舰店"].locator("input[type=radio]").count() == 0  # cannot be authorized twice
    assert by_name["花漾宠物用品店"].locator("input[type=radio]").count() == 0
    renew_early_link = by_name["花漾美妆旗舰店"].get_by_role("link", name="去提前续约")
    renew_link = by_name["花漾宠物用品店"].get_by_role("link", name="去续约")
    assert renew_early_link.get_attribute("href") == reverse("grants:renew_early", args=[active.pk])
    assert renew_link.get_attribute("href") == reverse("grants:renew", args=[stale.pk])
    screenshot(page, "journey-b7-search-shows-existing-grants")
    renew_early_link.click()
    page.wait_for_url(live_server.url + reverse("grants:renew_early", args=[active.pk]))
    page.get_by_role("heading", name="提前续约").wait_for()
    assert "花漾美妆旗舰店" in page.locator("#content").inner_text()
    screenshot(page, "journey-b8-renew-early-page")

    active.refresh_from_db()
    expired.refresh_from_db()
    assert (active.starts_on, active.ends_on) == (_days(-10), _days(120))
    assert (expired.starts_on, expired.ends_on, expired.status) == (today, _days(90), "active")
    assert Grant.objects.get(organization=new_shop).starts_on == today
    assert list(
        GrantEvent.objects.filter(grant__creator=creator).values_list("operation", flat=True).order_by("pk")
    ) == [
        *["authorize"] * 3,  # the set-up's grants
        "renew_early",
        "renew",
        "authorize",
    ]
    assert watch.errors == []


# --- c. the live big screen refreshes itself, then stops when the stream ends -----------------------


def _record(livestream: Livestream, *, extra_minute=None, extra_gmv=0, extra_viewers=0, ended_at=None) -> dict:
    """The import record (docs/import.md) of ``livestream`` as stored, plus the new data."""
    products = [
        {
            "shop": p.organization.code,
            "sku": p.sku,
            "name": p.name,
            "price": str(p.price),
            "units": p.units + (1 if i == 0 and extra_gmv else 0),
            "orders": p.orders + (1 if i == 0 and extra_gmv else 0),
            "gmv": str(p.gmv + (extra_gmv if i == 0 else 0)),
        }
        for i, p in enumerate(livestream.products.select_related("organization").order_by("pk"))
    ]
    minutes = [
        {"at": m.at.isoformat(), "online": m.online, "entries": m.entries, "gmv": str(m.gmv), "orders": m.orders}
        for m in MinutePoint.objects.filter(livestream=livestream).order_by("at")
    ]
    if extra_minute:
        minutes.append(extra_minute)
    funnel, sources, audience = livestream.funnel, livestream.sources, livestream.audience

    def shares(names):
        return {key: float(getattr(audience, field)) for key, field in names}

    return {
        "external_id": livestream.external_id,
        "creator": livestream.creator.douyin_id,
        "title": livestream.title,
        "started_at": livestream.started_at.isoformat(),
        "ended_at": ended_at.isoformat() if ended_at else None,
        "totals": {
            "viewers": livestream.viewers + extra_viewers,
            "peak_online": max([livestream.peak_online] + [m["online"] for m in minutes]),
            "avg_watch_seconds": livestream.avg_watch_seconds,
            "new_followers": livestream.new_followers,
        },
        "products": products,
        "minutes": minutes,
        "funnel": {
            k: getattr(funnel, k) for k in ("impressions", "entries", "product_impressions", "product_clicks", "orders")
        },
        "sources": {k: getattr(sources, k) for k in ("feed", "follow", "search", "video", "paid", "other")},
        "audience": {
            "gender": shares((("female", "female"), ("male", "male"))),
            "age": shares(
                (
                    ("18-23", "age_18_23"),
                    ("24-30", "age_24_30"),
                    ("31-40", "age_31_40"),
                    ("41-50", "age_41_50"),
                    ("50+", "age_50_plus"),
                )
            ),
            "provinces": {k: float(v) for k, v in audience.provinces.items()},
            "cities": {k: float(v) for k, v in audience.cities.items()},
            "new_vs_returning": shares((("new", "new"), ("returning", "returning"))),
        },
    }


def _import(tmp_path, record: dict, name: str) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_livestreams", str(path), stdout=out, stderr=err)
    except CommandError as error:  # pragma: no cover - shows the importer's reason
        pytest.fail(f"import refused: {error}; {err.getvalue()}")
    return out.getvalue()


def _figure(page, name: str) -> str:
    return page.locator(f"[data-figure={name}]").inner_text().strip()


def test_journey_live_big_screen_refreshes_then_stops(live_server, open_page, watch, login_as, screenshot, tmp_path):
    creator = _creator()
    shop = ShopFactory(name="花漾美妆旗舰店")
    stream = LivestreamFactory(creator=creator, cooperating=[shop], live=True, title="周末宠粉福利 · 直播中")
    big_screen_path = reverse("livestreams:big_screen", args=[stream.pk])

    page = open_page("creator")
    polls: list[str] = []
    documents: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith(big_screen_path) else None)
    login_as(page, "creator")
    page.get_by_role("link", name="查看全部直播").click()
    page.locator("#livestream-table").get_by_role("link", name="周末宠粉福利 · 直播中").click()
    page.get_by_role("link", name="直播大屏").first.click()
    page.wait_for_url(live_server.url + big_screen_path)
    page.locator("#bs-online svg").wait_for()
    assert "当前在线" in page.locator("#big-screen-live").inner_text()
    screenshot(page, "journey-c1-big-screen-live")
    online_before, gmv_before = _figure(page, "current-online"), _figure(page, "gmv")
    page.evaluate("window.__journeyMarker = 'no reload'")
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)

    # New data arrives the way production gets it: a new minute point and higher totals.
    stream.refresh_from_db()
    last = MinutePoint.objects.filter(livestream=stream).order_by("-at").first()
    at = max(timezone.now().replace(microsecond=0), last.at + datetime.timedelta(seconds=1))
    new_online = last.online + 54_321
    minute = {"at": at.isoformat(), "online": new_online, "entries": 4321, "gmv": "88888.00", "orders": 77}
    assert "updated 1" in _import(
        tmp_path, _record(stream, extra_minute=minute, extra_gmv=88_888, extra_viewers=100_000), "feed"
    )

    page.wait_for_function(
        "old => document.querySelector('[data-figure=current-online]').textContent.trim() !== old",
        arg=online_before,
        timeout=POLL_WAIT_MS,
    )
    assert _figure(page, "current-online") != online_before
    assert _figure(page, "gmv") != gmv_before
    assert page.evaluate("window.__journeyMarker") == "no reload"
    assert documents == []
    screenshot(page, "journey-c2-big-screen-updated")

    # The stream ends: the next poll shows it, and polling stops.
    stream.refresh_from_db()
    ended = _record(stream, ended_at=max(timezone.now(), at + datetime.timedelta(seconds=1)))
    assert "updated 1" in _import(tmp_path, ended, "end")
    page.locator("#big-screen-live", has_text="直播已结束").wait_for(timeout=POLL_WAIT_MS)
    assert page.locator("#big-screen-live[hx-trigger]").count() == 0
    assert _figure(page, "current-online") == "—"
    polls_at_end = len(polls)
    page.wait_for_timeout(11_000)  # two more polling intervals
    assert len(polls) == polls_at_end, f"still polling after the end: {polls[polls_at_end:]}"
    assert page.evaluate("window.__journeyMarker") == "no reload"
    assert documents == []
    screenshot(page, "journey-c3-big-screen-ended")
    assert not Livestream.objects.get(pk=stream.pk).is_live
    assert watch.errors == []
