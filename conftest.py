"""Project-wide pytest set-up: browser tests, Hypothesis profiles, shared fixtures."""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run in a
# thread with a running loop unless told that this is intended (it is, in tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=zh-CN",
]
ROOT = Path(__file__).resolve().parent
# The suite never rewrites tracked files: screenshots go to test-results/ (ignored) unless
# SCREENSHOTS_DIR names another folder, as `make screenshots` does for docs/screenshots.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "test-results" / "screenshots")


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return (
            f"Chromium not found at {CHROMIUM} "
            "(apt-get install chromium; REQUIRE_BROWSER=1 turns this skip into a failure)"
        )
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's Chromium; its own browser downloads are not available here."""
    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1360, "height": 860}, "locale": "zh-CN"}


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves name.png (full page; ``full_page=False``: the viewport, as
    for an open dialog) in SCREENSHOTS (see above)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
