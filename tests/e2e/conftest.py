import pytest
from django.urls import reverse

from portal.factories import DEMO_PASSWORD


@pytest.fixture
def console_errors(page):
    """Browser console errors and failed requests during the test; a journey asserts it stays empty."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.on("response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 500 else None)
    return errors


@pytest.fixture
def login_as(live_server):
    def login(page, username: str, password: str = DEMO_PASSWORD):
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("networkidle")

    return login
