"""50 concurrent users mixing list pages, data pages and grant operations (run by ``make load``).

Every response is checked: anything but the expected status (or a page without its marker) is a
failure, so the error count means what it says.
"""

import datetime
import itertools
import json
import os
import random
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

from locust import HttpUser, between, task

ACCOUNTS = 20
SESSIONS = json.loads(Path(os.environ["LOAD_SESSIONS"]).read_text(encoding="utf-8"))
_counters = {kind: itertools.count() for kind in ("creator", "shop", "staff")}
_lock = threading.Lock()
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
LINK = re.compile(r'href="(/livestreams/\d+/)"')
ROW = re.compile(r'id="grant-row-(\d+)"')


def _next(kind: str) -> int:
    with _lock:
        return next(_counters[kind]) % ACCOUNTS


class PortalUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)
    kind = ""

    def on_start(self):
        self.n = _next(self.kind)
        self.username = f"load-{self.kind}-{self.n:02d}"
        # Signed in beforehand (loadtest/fixtures.py): the run measures the portal, not PBKDF2.
        self.client.cookies.set("sessionid", SESSIONS[self.username], domain=urlsplit(self.host).hostname)
        self.home = self.client.get("/", name="home").url

    def page(self, url: str, name: str, marker: str | None = None):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
            elif marker and marker not in response.text:
                response.failure(f"marker {marker!r} missing")
            return response

    def csrf(self, response) -> str:
        return CSRF_HEADER.search(response.text).group(1)


class CreatorUser(PortalUser):
    """A creator reading her data and managing one partner's grant in a loop."""

    weight = 2
    kind = "creator"

    def on_start(self):
        super().on_start()
        self.creator_url = urlsplit(self.home).path  # the creator's own /creators/<id>/

    @task(3)
    def overview(self):
        self.page(f"{self.creator_url}?range={random.choice(['7', '30', '90'])}", "creator overview", "data-kpi")

    @task(2)
    def livestreams(self):
        sort = random.choice(["started_at", "gmv", "orders", "peak_online"])
        self.page(f"{self.creator_url}livestreams/?range=90&sort={sort}", "creator livestream list")

    @task(2)
    def grant_list(self):
        status = random.choice(["", "active", "expired", "revoked", "scheduled"])
        self.page(f"/grants/?status={status}", "grant list", 'id="grant-list"')

    @task(1)
    def requests(self):
        self.page("/requests/?status=approved", "request list", 'id="request-list"')

    @task(2)
    def grant_cycle(self):
        """Authorize the partner, renew early, revoke: three valid writes on this user's own pair."""
        listing = self.page(f"/grants/new/?q=压测合作方{self.n:02d}", "authorize form + search")
        match = re.search(r'name="organization" value="(\d+)"', listing.text)
        if match is None:
            listing.failure("partner not offered (a grant is still live?)")
            return
        token = self.csrf(listing)
        headers = {"X-CSRFToken": token, "Referer": f"{self.host}/grants/"}
        day = datetime.date.today()
        data = {"organization": match.group(1), "starts_on": (day + datetime.timedelta(days=1)).isoformat(),
                "ends_on": (day + datetime.timedelta(days=30)).isoformat()}  # fmt: skip
        with self.client.post("/grants/new/", data, headers=headers, name="authorize", allow_redirects=False,
                              catch_response=True) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"authorize: {response.status_code}")
                return
        rows = self.page(f"/grants/?q=压测合作方{self.n:02d}", "grant list (search)")
        grant = ROW.search(rows.text)
        if grant is None:
            rows.failure("new grant not listed")
            return
        grant_id = grant.group(1)
        ends = (day + datetime.timedelta(days=90)).isoformat()
        for url, payload, name in (
            (f"/grants/{grant_id}/renew-early/", {"ends_on": ends}, "renew early"),
            (f"/grants/{grant_id}/revoke/", {}, "revoke"),
        ):
            with self.client.post(url, payload, headers=headers, name=name, allow_redirects=False,
                                  catch_response=True) as response:  # fmt: skip
                if response.status_code != 302:
                    response.failure(f"{name}: {response.status_code}")
                    return


class MainAccountUser(PortalUser):
    """A shop's main account: personal center, then the creator's data in perspective."""

    weight = 2
    kind = "shop"

    @task(2)
    def personal_center(self):
        self.page("/org/?status=active", "personal center", 'id="creator-list"')

    @task(3)
    def creator_data(self):
        center = self.page("/org/", "personal center")
        creator = re.search(r'name="creator" value="(\d+)"', center.text)
        if creator is None:
            center.failure("no creator to view")
            return
        self.page(f"/creators/{creator.group(1)}/?range=30", "creator overview (perspective)", "banner")
        listing = self.page(f"/creators/{creator.group(1)}/livestreams/?range=90", "creator livestream list")
        link = LINK.search(listing.text)
        if link:
            self.page(f"{link.group(1)}traffic/", "module: traffic")


class SubAccountUser(PortalUser):
    """A shop's sub-account: its livestreams, a detail page, the modules it was approved for."""

    weight = 1
    kind = "staff"

    @task
    def livestreams(self):
        listing = self.page("/livestreams/", "org livestream list", 'id="livestream-list"')
        links = LINK.findall(listing.text)
        if not links:
            return
        detail = random.choice(links)
        page = self.page(detail, "livestream detail")
        if "已解锁全部数据" in page.text:
            self.page(f"{detail}big-screen/", "module: big screen")
            self.page(f"{detail}audience/", "module: audience")
