"""A creator's phone (issue 19): Chromium at 390 × 844, touch, zh-CN, on the demo world (seed_demo).

- Every page a demo user reaches from the navigation and the pages it links to (creator, shop,
  shop-staff, agency) fits the screen: ``document.documentElement.scrollWidth <= 390``; on a list,
  the first row's (card's) actions are inside the viewport.
- The creator's journey: approve a livestream request, decline another with a reason, renew a grant
  early, revoke one — each page without sideways scrolling. Screenshots: phone-*.png.
"""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from grants.models import Grant, LivestreamAccessRequest
from portal.models import Creator

from .test_accessibility import assert_accessible
from .test_english_browser import switch_to_english
from .test_journeys import settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 390, 844
# Links a walk does not follow: leaving the portal, files, the admin.
SKIP = re.compile(r"/export/|/admin/|/accounts/logout/|\.csv")


# The walk's pages kept as screenshots (user, page kind) → phone-<user>-<name>.png.
SHOTS = {
    ("creator", "/creators/N/livestreams/?range"): "livestreams",
    ("creator", "/livestreams/N/big-screen/?"): "big-screen",
    ("creator", "/livestreams/N/traffic/?"): "traffic",
    ("creator", "/livestreams/N/audience/?"): "audience",
    ("creator", "/inbox/?"): "inbox",
    ("shop", "/org/?"): "home",
    ("shop", "/livestreams/?"): "livestreams",
    ("shop-staff", "/livestreams/N/?"): "livestream-locked",
    ("agency", "/org/?"): "home",
}


# Long lists: the screenshot shows the screen (the first cards), not the whole page.
LONG = {"livestreams", "home", "inbox"}


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def phone(browser, browser_context_args):
    """A new phone page (its own context: cookies, touch) per call."""
    contexts = []

    def open_page(errors: list[str] | None = None):
        context = browser.new_context(
            **{**browser_context_args, "viewport": {"width": WIDTH, "height": HEIGHT}},
            has_touch=True,
            is_mobile=True,
        )
        contexts.append(context)
        page = context.new_page()
        if errors is not None:
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def assert_fits(page, label: str = "") -> None:
    """The page is not wider than the screen, and a list's first row shows its actions on screen."""
    settled(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        culprits = page.evaluate(
            """(limit) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > limit + 0.5 && e.getClientRects().length)
                .filter(e => !e.closest('.table-wrap, .chart-figure, .scroll-x'))
                .slice(0, 6).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.') + ' → '
                    + Math.round(e.getBoundingClientRect().right))""",
            WIDTH,
        )
        raise AssertionError(f"{label or page.url}: page {width} px wide at {WIDTH} px: {culprits}")
    first = page.locator("[data-row]").first
    if first.count():
        for action in first.locator(".actions a:visible, .actions button:visible").all():
            box = action.bounding_box()
            off_screen = f"{label or page.url}: the first row's action {action.inner_text()!r} at {box} is off screen"
            assert box, off_screen
            assert box["x"] >= 0, off_screen
            assert box["x"] + box["width"] <= WIDTH, off_screen


def login(page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo-pass-123")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def shape(path: str) -> str:
    """One visit per kind of page: ids and query values do not make a new page."""
    split = urlsplit(path)
    query = "&".join(
        sorted(
            part.split("=")[0] + ("=" + part.split("=")[1] if part.startswith(("status=", "show=")) else "")
            for part in split.query.split("&")
            if part
        )
    )  # noqa: E501
    return re.sub(r"/\d+/", "/N/", split.path) + "?" + query


@pytest.mark.parametrize("username", ["creator", "shop", "shop-staff", "agency"])
def test_no_page_of_a_demo_user_is_wider_than_the_phone(live_server, demo, phone, screenshot, username):
    errors: list[str] = []
    page = phone(errors)
    login(page, live_server, username)
    # Breadth first from the landing page, one page per kind (and per tab), up to 50 pages; the
    # shop also opens the data of the creator whose grant it holds (the perspective's pages).
    queue, seen, visited = [urlsplit(page.url).path], set(), []
    if username == "shop":
        creator = Creator.objects.get(user__username="creator")
        queue += [reverse("livestreams:creator_overview", args=[creator.pk]),
                  reverse("livestreams:creator_livestreams", args=[creator.pk])]  # fmt: skip
    while queue and len(visited) < 50:
        path = queue.pop(0)
        if shape(path) in seen:
            continue
        seen.add(shape(path))
        response = page.goto(live_server.url + path)
        if not response or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        visited.append(path)
        assert_fits(page, f"{username} {path}")
        name = SHOTS.get((username, shape(path)))
        if name:
            screenshot(page, f"phone-{username}-{name}", full_page=name not in LONG)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if href.startswith(live_server.url + "/") and not SKIP.search(href):
                link = href.removeprefix(live_server.url).split("#")[0]
                if shape(link) not in seen:
                    queue.append(link)
    assert len(visited) >= 5, visited
    assert errors == []
    print(f"{username}: {len(visited)} pages fit {WIDTH} px: {visited}")


def _first_pending_row(page):
    return page.locator("[data-row]", has=page.get_by_role("button", name="授权", exact=True)).first


def test_a_creator_decides_renews_and_revokes_on_a_phone(live_server, demo, phone, screenshot):
    errors: list[str] = []
    page = phone(errors)
    login(page, live_server, "creator")
    assert_fits(page, "overview")

    # 直播间数据管理: approve the first pending request, decline the next with a reason.
    page.get_by_role("link", name="直播间数据管理").click()
    page.get_by_role("heading", name="直播间数据管理").wait_for()
    assert_fits(page, "requests")
    assert_accessible(page, "requests as cards")
    screenshot(page, "phone-1-requests")
    pending = LivestreamAccessRequest.objects.filter(livestream__creator__user__username="creator", status="pending")
    count = pending.count()
    assert count >= 2
    row = _first_pending_row(page)
    row_id = row.get_attribute("id")
    row.get_by_role("button", name="授权", exact=True).click()
    page.locator(f"#{row_id}").get_by_text("已授权").wait_for()
    assert_fits(page, "request approved")
    screenshot(page, "phone-2-request-approved")
    assert pending.count() == count - 1

    row = _first_pending_row(page)
    row.get_by_role("link", name="拒绝").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    settled(page)
    box = dialog.bounding_box()
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= WIDTH, box
    dialog.get_by_role("textbox").fill("该场直播数据仍在核对中，请下周再申请。")
    screenshot(page, "phone-3-decline-reason", full_page=False)
    dialog.get_by_role("button", name="确认拒绝").click()
    dialog.wait_for(state="hidden")
    page.get_by_role("link", name=re.compile("^已拒绝")).click()
    page.get_by_text("理由：该场直播数据仍在核对中，请下周再申请。").first.wait_for()
    assert_fits(page, "request declined")
    screenshot(page, "phone-4-request-declined")
    assert pending.count() == count - 2
    declined = LivestreamAccessRequest.objects.filter(reason="该场直播数据仍在核对中，请下周再申请。").get()
    assert declined.status == "declined"

    # 数据授权管理: renew the first renewable grant early, then revoke it.
    page.get_by_role("link", name="数据授权管理").click()
    page.get_by_role("heading", name="数据授权管理").wait_for()
    assert_fits(page, "grants")
    assert_accessible(page, "grants as cards")
    screenshot(page, "phone-5-grants", full_page=False)
    # The authorize dialog fits the screen; Escape closes it.
    page.get_by_role("link", name="新增授权").click()
    dialog = page.locator("#dialog")
    dialog.wait_for(state="visible")
    settled(page)
    dialog.get_by_placeholder("输入店铺名称/机构名称搜索").fill("星途")
    dialog.locator("#org-results li").first.wait_for()
    box = dialog.bounding_box()
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= WIDTH, box
    assert box["y"] + box["height"] <= HEIGHT, box
    assert_fits(page, "authorize dialog")
    screenshot(page, "phone-5b-authorize", full_page=False)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    row = page.locator("[data-row]", has=page.get_by_role("link", name="提前续约")).first
    row_id = row.get_attribute("id")
    grant = Grant.objects.get(pk=int(row_id.rsplit("-", 1)[1]))
    later = grant.ends_on + datetime.timedelta(days=60)
    row.get_by_role("link", name="提前续约").click()
    dialog.wait_for(state="visible")
    settled(page)
    assert_fits(page, "renew early dialog")
    dialog.get_by_label("新的截止日期").fill(later.isoformat())
    screenshot(page, "phone-6-renew-early", full_page=False)
    dialog.get_by_role("button", name="确认续约").click()
    dialog.wait_for(state="hidden")
    page.locator(f"#{row_id}", has_text=later.isoformat()).wait_for()
    assert_fits(page, "renewed")

    page.locator(f"#{row_id}").get_by_role("link", name="解除授权").click()
    dialog.wait_for(state="visible")
    settled(page)
    screenshot(page, "phone-7-revoke-confirm", full_page=False)
    # The dialog keeps the focus inside and closes on Escape; opened again, it revokes.
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.locator(f"#{row_id}").get_by_role("link", name="解除授权").click()
    dialog.wait_for(state="visible")
    settled(page)
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate("document.getElementById('dialog').contains(document.activeElement)"), key
    dialog.get_by_role("button", name="确认解除").click()
    dialog.wait_for(state="hidden")
    page.locator(f"#{row_id}").get_by_text("已被解除授权").wait_for()
    assert_fits(page, "revoked")
    page.locator(f"#{row_id}").evaluate("row => row.scrollIntoView({block: 'center'})")
    screenshot(page, "phone-8-revoked", full_page=False)
    grant.refresh_from_db()
    assert (grant.status, grant.ends_on) == ("revoked", later)
    assert timezone.localdate() <= later
    assert errors == []


@pytest.mark.parametrize(("width", "display"), [(WIDTH, "block"), (1360, "table-row")])
def test_lists_are_cards_on_a_phone_and_tables_above(live_server, demo, browser, browser_context_args, width, display):
    context = browser.new_context(**{**browser_context_args, "viewport": {"width": width, "height": HEIGHT}})
    page = context.new_page()
    login(page, live_server, "creator")
    for path in (reverse("grants:creator_grants"), reverse("grants:creator_requests")):
        page.goto(live_server.url + path)
        row = page.locator("[data-row]").first
        assert row.evaluate("tr => getComputedStyle(tr).display") == display, path
        heading_row = page.locator("table.table-cards thead").first.bounding_box()
        assert (heading_row["height"] > 10) == (display == "table-row"), (path, heading_row)
        # The status cell: labelled on a card (its column's heading), a plain cell in a table.
        label = row.locator("td[data-label]").last.evaluate("td => getComputedStyle(td, '::before').content")
        assert (label not in ("none", "normal", '""')) == (display == "block"), (path, label)
    context.close()


def test_the_lists_fit_a_phone_in_english(live_server, demo, phone, screenshot):
    """English labels and buttons are longer: the cards still fit, actions on screen."""
    errors: list[str] = []
    page = phone(errors)
    login(page, live_server, "creator")
    switch_to_english(page)
    for path in (
        reverse("grants:creator_grants"),
        reverse("grants:creator_grants") + "?status=pending",
        reverse("grants:creator_requests"),
        reverse("notifications:inbox"),
    ):
        page.goto(live_server.url + path)
        assert_fits(page, f"en {path}")
    screenshot(page, "phone-en-inbox", full_page=False)
    page.goto(live_server.url + reverse("grants:creator_requests"))
    screenshot(page, "phone-en-requests", full_page=False)
    assert errors == []
