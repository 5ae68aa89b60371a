"""The first browser journey: log in as the demo creator and look at the home page."""

import pytest
from django.urls import reverse

from portal.factories import DEMO_PASSWORD, CreatorFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_creator_logs_in_and_sees_home(live_server, page, screenshot):
    creator = CreatorFactory(name="小雅美妆", user=UserFactory(username="creator", password=DEMO_PASSWORD))
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + reverse("login"))
    screenshot(page, "login")
    page.get_by_label("用户名").fill("creator")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**/creators/{creator.pk}/**")
    assert page.locator(".perspective-name").inner_text() == "小雅美妆"
    screenshot(page, "home-creator")
    assert errors == []
