"""A sub-account asks to unlock a livestream; the creator approves, then revokes — in Chromium."""

import pytest

from grants.models import LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_unlock_request_approve_and_revoke(live_server, browser, login_as, screenshot):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    shop = ShopFactory(name="花漾美妆旗舰店")
    SubAccountFactory(organization=shop, username="shop-staff", password=DEMO_PASSWORD)
    stream = LivestreamFactory(creator=creator, cooperating=[shop], title="冬季穿搭福利夜", minutes=120)
    errors: list[str] = []

    def new_page():
        context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    staff = new_page()
    login_as(staff, "shop-staff")
    staff.get_by_role("navigation", name="主导航").get_by_role("link", name="合作直播间").click()
    staff.get_by_role("link", name="冬季穿搭福利夜").click()
    screenshot(staff, "livestream-1-locked")
    staff.get_by_role("link", name="解锁更多数据").click()
    dialog = staff.locator("#dialog")
    dialog.wait_for(state="visible")
    screenshot(staff, "livestream-2-confirm-dialog")
    dialog.get_by_role("link", name="取消").click()
    dialog.wait_for(state="hidden")
    assert LivestreamAccessRequest.objects.count() == 0

    staff.get_by_role("link", name="解锁更多数据").click()
    dialog.wait_for(state="visible")
    dialog.get_by_role("button", name="确认").click()
    dialog.wait_for(state="hidden")
    staff.locator("#unlock-state").get_by_text("已申请，待达人审批").wait_for()
    assert LivestreamAccessRequest.objects.count() == 1
    screenshot(staff, "livestream-3-requested")

    owner = new_page()
    login_as(owner, "creator")
    owner.get_by_role("link", name="直播间数据管理").click()
    row = owner.locator("tr", has_text="花漾美妆旗舰店")
    screenshot(owner, "livestream-4-creator-requests")
    row.get_by_role("button", name="授权").click()
    owner.locator("tr", has_text="花漾美妆旗舰店").get_by_text("已授权").wait_for()
    assert owner.locator("#pending-badge").is_hidden()

    staff.reload()
    staff.get_by_text("已解锁全部数据").wait_for()
    for name, shot in (
        ("直播大屏", "module-big-screen"),
        ("流量转化", "module-traffic"),
        ("用户画像", "module-audience"),
    ):
        staff.goto(live_server.url + f"/livestreams/{stream.pk}/")
        staff.get_by_role("link", name=name).first.click()
        staff.wait_for_load_state("networkidle")
        assert staff.locator("svg[role=img]").count() >= 1
        screenshot(staff, shot)

    owner.get_by_role("link", name="已授权").click()
    # The tab swaps the list in: act on the new list's row, not on the one it replaces.
    owner.locator(".tabs a[aria-current=page]", has_text="已授权").wait_for()
    owner.once("dialog", lambda d: d.accept())
    owner.locator("tr", has_text="花漾美妆旗舰店").get_by_role("button", name="解除授权").click()
    owner.locator("tr", has_text="花漾美妆旗舰店").get_by_text("已解除授权").wait_for()
    staff.goto(live_server.url + f"/livestreams/{stream.pk}/")
    staff.get_by_role("link", name="解锁更多数据").wait_for()
    response = staff.goto(live_server.url + f"/livestreams/{stream.pk}/big-screen/")
    assert response.status == 403
    assert [e for e in errors if "403" not in e] == []
